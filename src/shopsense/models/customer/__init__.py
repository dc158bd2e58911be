"""Customer models: purchase-process models (BG/NBD) and, next, churn, CLV and segments."""
