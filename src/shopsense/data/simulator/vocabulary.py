"""The simulated shop's world knowledge: its category tree, brands and word lists.

Everything here is constant data; the catalog generator draws from it with the
simulation's random generator, so titles such as "Acme Organic Green Tea 50 bags" are
deterministic for a seed. Prices are in the shop's currency (EUR by default).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubcategorySpec:
    """A leaf of the category tree and how its products look and sell.

    ``median_price`` and ``price_spread`` parameterise the log-normal list price
    (``exp(N(log(median_price), price_spread))``); ``cycle_days`` is the typical re-buy
    cycle of a consumable (``None`` for durable goods).
    """

    name: str
    nouns: tuple[str, ...]
    variants: tuple[str, ...]
    median_price: float
    price_spread: float = 0.5
    cycle_days: float | None = None


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """A top-level category: its subcategories, brands, words and shopper behaviour.

    ``share`` is the category's weight in the average shopper's taste and in the catalog;
    ``return_rate`` the probability that a purchase of an average match is returned.
    ``title_format`` names the fields ``brand``, ``adjective``, ``noun`` and ``variant``.
    """

    name: str
    share: float
    return_rate: float
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    features: tuple[str, ...]
    subcategories: tuple[SubcategorySpec, ...]
    title_format: str = "{brand} {adjective} {noun} {variant}"


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        name="Groceries",
        share=0.20,
        return_rate=0.01,
        brands=(
            "Acme",
            "GreenLeaf",
            "Nordic Pantry",
            "Golden Field",
            "Harvest Moon",
            "Little Farm",
            "Blue Hill",
            "Sunny Valley",
        ),
        adjectives=("Organic", "Classic", "Fair Trade", "Premium", "Everyday", "Wholesome"),
        features=(
            "Sourced from trusted growers.",
            "No artificial colours or flavours.",
            "Resealable pack keeps it fresh.",
            "A pantry favourite for the whole family.",
            "Vegan friendly.",
        ),
        subcategories=(
            SubcategorySpec(
                "Tea & Coffee",
                ("Green Tea", "Black Tea", "Ground Coffee", "Coffee Beans", "Herbal Tea"),
                ("50 bags", "80 bags", "250 g", "500 g", "1 kg"),
                median_price=6.0,
                price_spread=0.45,
                cycle_days=30.0,
            ),
            SubcategorySpec(
                "Snacks",
                ("Dark Chocolate", "Sea Salt Crisps", "Mixed Nuts", "Oat Bars", "Rice Cakes"),
                ("100 g", "150 g", "200 g", "6 pack", "12 pack"),
                median_price=3.5,
                price_spread=0.4,
                cycle_days=12.0,
            ),
            SubcategorySpec(
                "Pantry",
                ("Olive Oil", "Basmati Rice", "Penne Pasta", "Tomato Passata", "Chickpeas"),
                ("500 g", "1 kg", "750 ml", "1 l", "4 pack"),
                median_price=4.5,
                price_spread=0.45,
                cycle_days=28.0,
            ),
            SubcategorySpec(
                "Beverages",
                ("Sparkling Water", "Orange Juice", "Oat Drink", "Lemonade", "Cold Brew"),
                ("1 l", "6 x 330 ml", "12 x 330 ml", "1.5 l", "4 x 250 ml"),
                median_price=3.0,
                price_spread=0.45,
                cycle_days=9.0,
            ),
            SubcategorySpec(
                "Breakfast",
                ("Granola", "Porridge Oats", "Honey", "Muesli", "Peanut Butter"),
                ("375 g", "500 g", "750 g", "340 g", "1 kg"),
                median_price=4.5,
                price_spread=0.4,
                cycle_days=21.0,
            ),
            SubcategorySpec(
                "Pet Food",
                ("Dry Dog Food", "Cat Food Pouches", "Dog Treats", "Cat Litter", "Kitten Food"),
                ("2 kg", "12 x 85 g", "500 g", "10 l", "4 kg"),
                median_price=14.0,
                price_spread=0.5,
                cycle_days=28.0,
            ),
        ),
    ),
    CategorySpec(
        name="Beauty",
        share=0.13,
        return_rate=0.04,
        brands=(
            "Lumiere",
            "Pure Bloom",
            "Velvet & Co",
            "Aqua Vita",
            "Rose Atelier",
            "Skinlab",
            "Nordbeauty",
            "Silk Road",
        ),
        adjectives=("Hydrating", "Gentle", "Radiant", "Sensitive", "Natural", "Intense"),
        features=(
            "Dermatologically tested.",
            "Cruelty free and vegan.",
            "Suitable for all skin types.",
            "Lightly scented with botanical extracts.",
            "Recyclable packaging.",
        ),
        subcategories=(
            SubcategorySpec(
                "Skincare",
                ("Face Cream", "Serum", "Cleanser", "Night Cream", "Sunscreen SPF 50"),
                ("30 ml", "50 ml", "100 ml", "150 ml", "200 ml"),
                median_price=18.0,
                price_spread=0.6,
                cycle_days=45.0,
            ),
            SubcategorySpec(
                "Hair Care",
                ("Shampoo", "Conditioner", "Hair Mask", "Hair Oil", "Dry Shampoo"),
                ("250 ml", "300 ml", "400 ml", "100 ml", "500 ml"),
                median_price=8.0,
                price_spread=0.5,
                cycle_days=35.0,
            ),
            SubcategorySpec(
                "Personal Care",
                ("Toothpaste", "Deodorant", "Shower Gel", "Razor Blades", "Hand Soap"),
                ("75 ml", "150 ml", "250 ml", "4 pack", "500 ml"),
                median_price=4.5,
                price_spread=0.45,
                cycle_days=30.0,
            ),
            SubcategorySpec(
                "Makeup",
                ("Mascara", "Lipstick", "Foundation", "Eyeshadow Palette", "Concealer"),
                ("Shade 01", "Shade 02", "Shade 03", "Nude", "Deep Red"),
                median_price=15.0,
                price_spread=0.55,
            ),
            SubcategorySpec(
                "Fragrance",
                ("Eau de Parfum", "Eau de Toilette", "Body Mist", "Perfume Oil"),
                ("30 ml", "50 ml", "100 ml", "10 ml"),
                median_price=45.0,
                price_spread=0.6,
            ),
        ),
    ),
    CategorySpec(
        name="Home",
        share=0.13,
        return_rate=0.06,
        brands=(
            "Homely",
            "Oak & Ash",
            "Casa Nova",
            "Brightnest",
            "Kitchenly",
            "Linen Lane",
            "Tidy House",
            "Urban Loft",
        ),
        adjectives=("Stoneware", "Nordic", "Everyday", "Deluxe", "Compact", "Eco"),
        features=(
            "Dishwasher safe.",
            "Designed to last for years.",
            "Made from responsibly sourced materials.",
            "Easy to clean.",
            "Fits small and large homes alike.",
        ),
        subcategories=(
            SubcategorySpec(
                "Kitchen",
                ("Frying Pan", "Chef Knife", "Mug Set", "Cutting Board", "Saucepan"),
                ("20 cm", "24 cm", "28 cm", "set of 4", "set of 2"),
                median_price=25.0,
                price_spread=0.6,
            ),
            SubcategorySpec(
                "Cleaning",
                ("Laundry Detergent", "Dish Soap", "Surface Spray", "Dishwasher Tablets"),
                ("1 l", "2 l", "500 ml", "40 tablets", "60 tablets"),
                median_price=6.0,
                price_spread=0.45,
                cycle_days=35.0,
            ),
            SubcategorySpec(
                "Decor",
                ("Table Lamp", "Scented Candle", "Picture Frame", "Vase", "Wall Clock"),
                ("small", "medium", "large", "set of 3", "30 cm"),
                median_price=28.0,
                price_spread=0.6,
            ),
            SubcategorySpec(
                "Bedding",
                ("Duvet Cover", "Pillow", "Fitted Sheet", "Throw Blanket", "Mattress Topper"),
                ("single", "double", "king", "50 x 75 cm", "140 x 200 cm"),
                median_price=40.0,
                price_spread=0.55,
            ),
        ),
    ),
    CategorySpec(
        name="Electronics",
        share=0.12,
        return_rate=0.08,
        brands=(
            "Voltix",
            "Nimbus",
            "Sonora",
            "Pixelon",
            "Zentech",
            "Arcwave",
            "Kobalt",
            "Lumina",
        ),
        adjectives=("Wireless", "Smart", "Pro", "Ultra", "Compact", "Fast"),
        features=(
            "Two-year warranty.",
            "USB-C charging.",
            "Works with iOS and Android.",
            "Long battery life.",
            "Plug and play, no drivers needed.",
        ),
        subcategories=(
            SubcategorySpec(
                "Phone Accessories",
                ("Phone Case", "Charging Cable", "Wall Charger", "Screen Protector", "Power Bank"),
                ("1 m", "2 m", "20 W", "10000 mAh", "2 pack"),
                median_price=18.0,
                price_spread=0.55,
            ),
            SubcategorySpec(
                "Audio",
                ("Headphones", "Earbuds", "Bluetooth Speaker", "Soundbar"),
                ("black", "white", "blue", "graphite"),
                median_price=60.0,
                price_spread=0.7,
            ),
            SubcategorySpec(
                "Computing",
                ("Keyboard", "Mouse", "Webcam", "USB Hub", "Monitor Stand"),
                ("full size", "tenkeyless", "1080p", "4 port", "7 port"),
                median_price=45.0,
                price_spread=0.65,
            ),
            SubcategorySpec(
                "Smart Home",
                ("Smart Plug", "Smart Bulb", "Security Camera", "Thermostat", "Doorbell"),
                ("single", "2 pack", "4 pack", "indoor", "outdoor"),
                median_price=35.0,
                price_spread=0.6,
            ),
            SubcategorySpec(
                "Batteries",
                ("AA Batteries", "AAA Batteries", "Rechargeable AA", "Coin Cells"),
                ("4 pack", "8 pack", "12 pack", "16 pack"),
                median_price=7.0,
                price_spread=0.4,
                cycle_days=60.0,
            ),
        ),
    ),
    CategorySpec(
        name="Fashion",
        share=0.16,
        return_rate=0.22,
        brands=(
            "Northwind",
            "Maison Ciel",
            "Urban Thread",
            "Bellamy",
            "Coastline",
            "Atelier Nine",
            "Redwood",
            "Denimworks",
        ),
        adjectives=("Navy", "Black", "Linen", "Slim Fit", "Relaxed", "Organic Cotton"),
        features=(
            "Machine washable at 30 degrees.",
            "True to size.",
            "Made with organic cotton.",
            "Free returns within 30 days.",
            "A timeless cut for every season.",
        ),
        subcategories=(
            SubcategorySpec(
                "Women's Clothing",
                ("Dress", "Blouse", "Cardigan", "Jeans", "Skirt"),
                ("size XS", "size S", "size M", "size L", "size XL"),
                median_price=38.0,
                price_spread=0.5,
            ),
            SubcategorySpec(
                "Men's Clothing",
                ("Shirt", "Chinos", "Hoodie", "T-Shirt", "Jacket"),
                ("size S", "size M", "size L", "size XL", "size XXL"),
                median_price=35.0,
                price_spread=0.5,
            ),
            SubcategorySpec(
                "Shoes",
                ("Sneakers", "Boots", "Loafers", "Sandals", "Running Shoes"),
                ("EU 38", "EU 40", "EU 42", "EU 44", "EU 46"),
                median_price=65.0,
                price_spread=0.45,
            ),
            SubcategorySpec(
                "Accessories",
                ("Scarf", "Leather Belt", "Beanie", "Tote Bag", "Sunglasses"),
                ("one size", "small", "large", "90 cm", "110 cm"),
                median_price=22.0,
                price_spread=0.55,
            ),
            SubcategorySpec(
                "Socks & Underwear",
                ("Ankle Socks", "Boxer Briefs", "Sports Socks", "Briefs"),
                ("3 pack", "5 pack", "7 pack", "10 pack"),
                median_price=12.0,
                price_spread=0.4,
                cycle_days=120.0,
            ),
        ),
    ),
    CategorySpec(
        name="Toys",
        share=0.08,
        return_rate=0.05,
        brands=(
            "Playful",
            "Brickly",
            "Tiny Giants",
            "Wonderbox",
            "Kiddo",
            "Starlight Toys",
            "Puzzlemania",
            "Hoppers",
        ),
        adjectives=("Deluxe", "Classic", "Junior", "Creative", "Wooden", "Adventure"),
        features=(
            "For ages 3 and up.",
            "Encourages creative play.",
            "Safety tested to EN 71.",
            "Batteries not required.",
            "A great gift for birthdays.",
        ),
        subcategories=(
            SubcategorySpec(
                "Building Sets",
                ("Castle Set", "Space Station", "City Garage", "Pirate Ship", "Robot Kit"),
                ("250 pieces", "500 pieces", "800 pieces", "1200 pieces", "150 pieces"),
                median_price=32.0,
                price_spread=0.6,
            ),
            SubcategorySpec(
                "Puzzles & Games",
                ("Jigsaw Puzzle", "Board Game", "Card Game", "Memory Game", "Chess Set"),
                ("500 pieces", "1000 pieces", "2-4 players", "2-6 players", "travel size"),
                median_price=18.0,
                price_spread=0.45,
            ),
            SubcategorySpec(
                "Dolls & Figures",
                ("Doll House", "Action Figure", "Plush Bear", "Dinosaur Figure", "Puppet"),
                ("15 cm", "30 cm", "set of 3", "set of 6", "large"),
                median_price=20.0,
                price_spread=0.55,
            ),
            SubcategorySpec(
                "Outdoor Play",
                ("Kick Scooter", "Water Blaster", "Kite", "Sandbox Set", "Trampoline"),
                ("small", "medium", "large", "blue", "red"),
                median_price=35.0,
                price_spread=0.7,
            ),
        ),
    ),
    CategorySpec(
        name="Sports",
        share=0.09,
        return_rate=0.08,
        brands=(
            "Peak Motion",
            "Trailborn",
            "Stride",
            "Ironclad",
            "Velocity",
            "Summit Gear",
            "Aquafit",
            "Pedalpro",
        ),
        adjectives=("Lightweight", "Pro", "Training", "All-Weather", "Performance", "Trail"),
        features=(
            "Sweat-wicking fabric.",
            "Built for daily training.",
            "Tested by athletes.",
            "Packs down small.",
            "Non-slip grip.",
        ),
        subcategories=(
            SubcategorySpec(
                "Fitness",
                ("Yoga Mat", "Dumbbell Set", "Resistance Bands", "Kettlebell", "Foam Roller"),
                ("4 mm", "6 mm", "2 x 5 kg", "12 kg", "set of 5"),
                median_price=30.0,
                price_spread=0.6,
            ),
            SubcategorySpec(
                "Outdoor",
                ("Tent", "Hiking Backpack", "Sleeping Bag", "Trekking Poles", "Headlamp"),
                ("2 person", "4 person", "30 l", "45 l", "300 lumen"),
                median_price=55.0,
                price_spread=0.7,
            ),
            SubcategorySpec(
                "Cycling",
                ("Bike Helmet", "Bike Lights", "Cycling Gloves", "Bike Lock", "Water Bottle"),
                ("size M", "size L", "set", "750 ml", "1 m"),
                median_price=30.0,
                price_spread=0.6,
            ),
            SubcategorySpec(
                "Sports Nutrition",
                ("Whey Protein", "Energy Bars", "Electrolyte Tablets", "Protein Shake"),
                ("1 kg", "2 kg", "12 pack", "20 tablets", "6 x 330 ml"),
                median_price=22.0,
                price_spread=0.45,
                cycle_days=30.0,
            ),
        ),
    ),
    CategorySpec(
        name="Books",
        share=0.09,
        return_rate=0.02,
        brands=(
            "Bluebird Press",
            "Harbor House",
            "Quill & Ink",
            "Northstar Books",
            "Lantern Publishing",
            "Paper Moon",
            "Owl Street",
            "Evergreen Press",
        ),
        adjectives=("Hidden", "Silent", "Last", "Golden", "Little", "Midnight"),
        features=(
            "A bestseller across Europe.",
            "Shortlisted for a national book prize.",
            "Now with a new foreword.",
            "Perfect for long evenings.",
            "Beautifully illustrated.",
        ),
        subcategories=(
            SubcategorySpec(
                "Fiction",
                ("Harbour", "Garden", "River", "Letter", "Summer"),
                ("Paperback", "Hardcover", "Large Print"),
                median_price=12.0,
                price_spread=0.35,
            ),
            SubcategorySpec(
                "Non-Fiction",
                ("History of Salt", "Mind", "Science of Sleep", "Atlas", "Economy"),
                ("Paperback", "Hardcover"),
                median_price=17.0,
                price_spread=0.35,
            ),
            SubcategorySpec(
                "Children's Books",
                ("Dragon", "Bear", "Moon", "Forest", "Rabbit"),
                ("Board Book", "Picture Book", "Paperback"),
                median_price=8.0,
                price_spread=0.35,
            ),
            SubcategorySpec(
                "Cookbooks",
                ("Kitchen", "Bakery", "Table", "Spice Road", "Vegetable Year"),
                ("Hardcover", "Paperback"),
                median_price=22.0,
                price_spread=0.3,
            ),
        ),
        title_format="The {adjective} {noun} ({variant}, {brand})",
    ),
)
"""The category tree: 8 top-level categories, 37 subcategories, 64 brands."""

COUNTRIES: tuple[tuple[str, float], ...] = (
    ("DE", 0.24),
    ("GB", 0.18),
    ("FR", 0.15),
    ("NL", 0.09),
    ("ES", 0.09),
    ("IT", 0.09),
    ("PL", 0.06),
    ("SE", 0.05),
    ("BE", 0.05),
)
"""Shopper countries with their shares."""

AGE_BANDS: tuple[tuple[str, float], ...] = (
    ("18-24", 0.15),
    ("25-34", 0.30),
    ("35-44", 0.24),
    ("45-54", 0.16),
    ("55-64", 0.10),
    ("65+", 0.05),
)
"""Age bands with their shares."""

ACQUISITION_CHANNELS: tuple[tuple[str, float], ...] = (
    ("organic", 0.45),
    ("search_ads", 0.25),
    ("social", 0.15),
    ("referral", 0.10),
    ("email", 0.05),
)
"""How shoppers first came to the shop, with shares."""

HOURLY_SESSION_WEIGHTS: tuple[float, ...] = (
    0.6, 0.35, 0.2, 0.15, 0.15, 0.25,  # 00-05: night
    0.6, 1.2, 2.0, 2.6, 3.0, 3.4,  # 06-11: morning
    4.0, 3.8, 3.2, 3.0, 3.2, 3.6,  # 12-17: lunch peak, afternoon
    4.4, 5.4, 6.0, 5.6, 3.8, 1.8,  # 18-23: evening peak
)  # fmt: skip
"""Relative share of sessions starting in each hour of the (UTC) day."""
