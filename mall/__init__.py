"""Points mall: catalogue, redemption and fulfilment (see docs/rules/mall.md)."""
