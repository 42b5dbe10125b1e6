"""Names from the file system as text that can always be printed.

A Linux file name is bytes, not text. Python decodes the bytes that are not valid UTF-8 as lone surrogates
('caf\\udce9.jpg' for the Latin-1 name b'caf\\xe9.jpg'), so that the name still opens the file; but writing
that string to a UTF-8 stream, a figure or a text file raises UnicodeEncodeError, which used to stop a whole
training for one odd name. `printable` turns the name back into its bytes and escapes the invalid ones:
'caf\\xe9.jpg', which names the file unambiguously and can be written anywhere. Control characters (a newline,
a tab, a terminal escape) are escaped the same way.
"""
import os


def printable(name):
    """`name` (a str or a path) with the bytes that are not valid UTF-8 escaped as \\xNN, and the control
    characters too (a newline or a terminal escape sequence in a file name would break a one-line message or
    predict's tab-separated output): 'a\\nb' for a name holding a newline."""
    text = os.fspath(name)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    else:
        try:
            text = os.fsencode(text).decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that no file name decodes to: written as Python escapes it
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)
