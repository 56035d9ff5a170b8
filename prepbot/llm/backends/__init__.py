"""The backends: OpenAI and compatible servers (openai.py), the in-process model (local/), and the scripted
one for tests (scripted.py). registry.py maps the names in ``settings.backend`` to them."""
