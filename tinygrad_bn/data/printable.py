"""Names from the file system as text that can always be printed.

A Linux file name is bytes, not text. Python decodes the bytes that are not valid UTF-8 as lone surrogates
('caf\\udce9.jpg' for the Latin-1 name b'caf\\xe9.jpg'), so that the name still opens the file; but writing that
string to a UTF-8 stream, a figure or a text file raises UnicodeEncodeError, which used to stop a whole
training for one odd name. `printable` turns the name back into its bytes and escapes the invalid ones:
'caf\\\\xe9.jpg', which names the file unambiguously and can be written anywhere.
"""
import os


def printable(name):
    """`name` (a str or a path) with the bytes that are not valid UTF-8 escaped as \\xNN."""
    text = os.fspath(name)
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to: written as Python escapes it
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
