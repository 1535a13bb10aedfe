"""Forms of the billing admin and portal, one module per feature: they collect
input; the services decide."""
