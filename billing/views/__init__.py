"""The customer portal's billing pages, one module per page family."""
