"""The Inference page's sections, one module each, every one exposing `render() -> None`:
decoding, kv_cache, quantization, speculative, serving. pages/inference.py picks one."""
