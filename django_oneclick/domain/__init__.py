"""What an order is, free of views and HTTP: its states and the errors of its rules."""
