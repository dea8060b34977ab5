"""Echo: an invented provider, its fake and its conformance profile, written from
docs/writing-a-provider.md and the sandbox alone (the proof that the guide is enough)."""
