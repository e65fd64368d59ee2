"""Paths in the report: the JSON pointer a patch uses reads back to the same parts."""

from __future__ import annotations

from postrender.rewrite.yamlpath import dotted, from_pointer, pointer


def test_pointer_escapes_and_reads_back() -> None:
    parts = ("metadata", "annotations", "example.com/a~b", 0)
    assert pointer(parts) == "/metadata/annotations/example.com~1a~0b/0"
    assert from_pointer(pointer(parts)) == ("metadata", "annotations", "example.com/a~b", "0")


def test_dotted_quotes_keys_that_are_not_plain_words() -> None:
    assert dotted(("spec", "containers", 0, "image")) == "spec.containers[0].image"
    assert dotted(("data", "run.sh")) == "data['run.sh']"
