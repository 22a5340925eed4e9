"""Points mall: catalogue, redemption and fulfilment (see DESIGN.md §3)."""
