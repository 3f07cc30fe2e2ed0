"""Optional Django apps that ship with the adapter; add one to ``INSTALLED_APPS`` to use it."""
