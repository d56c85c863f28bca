"""Claims, the quantities they bound, the falsifier's strategies and engine, witnesses."""
