"""routilux: an event-driven workflow engine whose monitoring and debugging live in Jupyter."""
