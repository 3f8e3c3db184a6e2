"""Resource shapes and pure helpers: Quantity, selectors, defaulting, validation, pod resource math."""
