"""The customer portal's billing tables (django-tables2), one module per page family."""
