"""The host side of warmboot's end-to-end VM test (tests/e2e/run). See tests/e2e/README.md."""
