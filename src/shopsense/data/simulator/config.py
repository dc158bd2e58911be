"""The simulation's configuration: sizes, seed, calendar and every behavioural knob.

:class:`SimulationConfig` is a frozen pydantic model: every field is documented, range
checked at construction (a bad value raises :class:`pydantic.ValidationError`, a
``ValueError``), and the same config always gives the same simulated shop.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shopsense.data.simulator.vocabulary import CATEGORIES

N_SUBCATEGORIES = sum(len(category.subcategories) for category in CATEGORIES)
"""How many leaf categories the simulated catalog has (every one gets at least one item)."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class SimulationConfig(BaseModel):
    """How big the simulated shop is, which seed drives it, and how its shoppers behave.

    Funnel rates (``cart_rate``, ``purchase_rate``, return rates) are averages over the
    simulated browsing: each view's own probability is moved up or down by how well the
    item suits the shopper (taste, brand loyalty, price sensitivity, hidden quality),
    and the simulator calibrates the intercepts so that the averages come out at these
    values (see ``docs/simulator.md``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- size, seed and calendar -------------------------------------------------------
    users: int = Field(
        default=1_000,
        ge=1,
        le=5_000_000,
        description="Shoppers in total: those signed up before the start plus newcomers.",
    )
    items: int = Field(
        default=300,
        ge=N_SUBCATEGORIES,
        le=5_000_000,
        description=f"Products in the catalog (at least {N_SUBCATEGORIES}, one per leaf).",
    )
    days: int = Field(default=60, ge=1, le=3_650, description="Length of the period in days.")
    seed: int = Field(default=0, ge=0, description="Seed of the random generator (PCG64).")
    start: date = Field(default=date(2024, 1, 1), description="First simulated day (UTC midnight).")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")

    # --- catalog -----------------------------------------------------------------------
    popularity_exponent: float = Field(
        default=1.0,
        ge=0.0,
        le=3.0,
        description="Zipf exponent of item popularity: weight of the item ranked r is r^-s.",
    )
    new_item_share: Probability = Field(
        default=0.1,
        description="Share of items added to the catalog during the period (at most all but "
        "one per subcategory).",
    )

    # --- shoppers ----------------------------------------------------------------------
    newcomer_share: Probability = Field(
        default=0.3, description="Share of shoppers who sign up during the period."
    )
    taste_concentration: float = Field(
        default=0.5,
        gt=0.0,
        description="Dirichlet concentration of tastes over the 8 top categories, per "
        "category: alpha_c = taste_concentration x 8 x share_c (smaller: pickier shoppers "
        "with one or two favourite categories).",
    )
    subcategory_concentration: float = Field(
        default=1.0,
        gt=0.0,
        description="Dirichlet concentration of tastes over the subcategories of a category.",
    )
    brand_loyalty: float = Field(
        default=1.0,
        ge=0.0,
        description="Mean log-odds boost a shopper gives to their favourite brand of each "
        "category (exponentially distributed over shoppers).",
    )
    price_sensitivity_mean: float = Field(
        default=1.0,
        ge=0.0,
        description="Mean price sensitivity: the log-odds penalty per unit of log(price / "
        "median price of the subcategory).",
    )
    price_sensitivity_spread: float = Field(
        default=0.5, ge=0.0, description="Log-normal sigma of price sensitivity over shoppers."
    )
    activity_mean: float = Field(
        default=0.12,
        gt=0.0,
        le=20.0,
        description="Mean sessions per day of a shopper on an ordinary day.",
    )
    activity_spread: float = Field(
        default=1.0,
        ge=0.0,
        le=3.0,
        description="Log-normal sigma of activity over shoppers (heavy tail of loyal fans).",
    )
    churn_hazard_mean: Probability = Field(
        default=0.004,
        description="Mean per-day probability that a shopper leaves for good.",
    )
    churn_hazard_spread: float = Field(
        default=1.0, ge=0.0, le=3.0, description="Log-normal sigma of the churn hazard."
    )

    # --- calendar rhythm ---------------------------------------------------------------
    weekend_multiplier: float = Field(
        default=1.3, gt=0.0, description="Activity on Saturdays and Sundays relative to weekdays."
    )
    seasonal_amplitude: float = Field(
        default=0.15,
        ge=0.0,
        lt=1.0,
        description="Amplitude of the yearly cosine on activity (high in early December, low "
        "in June).",
    )
    black_friday_multiplier: float = Field(
        default=2.5,
        ge=1.0,
        description="Activity multiplier from Black Friday to Cyber Monday.",
    )
    black_friday_discount: float = Field(
        default=0.2, ge=0.0, lt=1.0, description="Price cut from Black Friday to Cyber Monday."
    )
    december_multiplier: float = Field(
        default=1.4,
        ge=1.0,
        description="Activity multiplier reached on 20 December (a ramp from 1 December); "
        "24-26 December fall to 60% of an ordinary day.",
    )

    # --- sessions and funnel -----------------------------------------------------------
    views_per_session: float = Field(
        default=4.0, ge=1.0, le=100.0, description="Mean item views per browsing session."
    )
    session_focus: Probability = Field(
        default=0.7,
        description="Probability that a view stays in the session's main subcategory.",
    )
    consideration_set_size: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Items drawn by popularity per view, of which the shopper opens the one "
        "that suits them best (softmax of their affinity).",
    )
    search_probability: Probability = Field(
        default=0.3, description="Probability that a session starts with a search."
    )
    cart_rate: Probability = Field(
        default=0.1,
        description="Average probability that viewing an item (once per session) leads to "
        "add-to-cart.",
    )
    purchase_rate: Probability = Field(
        default=0.5,
        description="Average probability that a carted item is bought in the same session.",
    )
    remove_from_cart_probability: Probability = Field(
        default=0.3, description="Probability that a carted, unbought item is removed."
    )
    return_rate_scale: float = Field(
        default=1.0,
        ge=0.0,
        le=4.0,
        description="Multiplier on the categories' average return rates (Fashion 22%, "
        "Electronics 8%, Groceries 1%, ...); purchases that suit the shopper less come back "
        "more often.",
    )
    rating_probability: Probability = Field(
        default=0.12, description="Probability that a purchase is rated (1-5) days later."
    )
    taste_weight: float = Field(
        default=0.6,
        ge=0.0,
        description="Weight of category taste in a shopper's affinity for an item (the "
        "log-odds that drive which items they open, cart, buy, return and rate).",
    )

    # --- repeat purchases ----------------------------------------------------------------
    repurchase_probability: Probability = Field(
        default=0.75,
        description="Probability that a shopper re-buys a consumable when it runs out.",
    )
    cycle_personal_spread: float = Field(
        default=0.25,
        ge=0.0,
        le=2.0,
        description="Log-normal sigma of a shopper's personal factor on re-buy cycles.",
    )
    cycle_noise: float = Field(
        default=0.12,
        ge=0.0,
        le=2.0,
        description="Log-normal sigma of the noise on each re-buy interval.",
    )
