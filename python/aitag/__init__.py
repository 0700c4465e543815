"""aitag: tag news articles with a linear-SVM text classifier (libaitag).

    import aitag
    m = aitag.load()                      # the default model
    m.classify("Samsung starts mass production of HBM4 memory")
    m.classify_many(texts, threads=4)     # the library's threads, GIL released
    m2 = aitag.train([{"text": ..., "labels": [...]}, ...], C=1.0)
    m2.save("news.aitag"); aitag.load_bytes(m2.to_bytes())

Results are plain dicts shaped like the JSON lines of `aitag classify`.
"""
from aitag._model import (AitagError, Model, default_model_path, load, load_bytes, train,
                          tokenize, version)

__all__ = ["AitagError", "Model", "default_model_path", "load", "load_bytes", "train", "tokenize",
           "version"]
