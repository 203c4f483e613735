"""What a file is from its bytes, before (or instead of) decoding it: the format from the first
bytes, whether a file is UTF-8 text (a file list), and the reason given for bytes that no
decoder takes (:mod:`dataeval_gpu.io` reads files with it).  Standard library only.
"""

from __future__ import annotations

import codecs

__all__ = ["IMAGE_EXTENSIONS", "NOT_IMAGES", "format_name", "idx_array", "sniff", "svg_markup", "text_words", "unknown_format", "utf8_text"]

#: the file name endings of the images a folder scan reads (``datasets.list_image_files``; the
#: scan's discovery lists more: ``discovery.IMAGE_LIKE_SUFFIXES``)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")

#: TIFF's two byte orders (and BigTIFF's)
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def sniff(head: bytes) -> str:
    """The format from the first bytes: jpeg, png, gif, webp, svg, text or other."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head.lower()):
        return "svg"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64]):
        return "text"
    return "other"


def format_name(head: bytes) -> str | None:
    """The image format the first bytes name, for formats no decoder here may take (the reason
    of a failure names it: "a HEIF/AVIF image", not "unknown"); None when none is recognised."""
    if head[:4] in TIFF_MAGIC:
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
        return "HEIF/AVIF"
    if head[4:12] == b"JXL \r\n\x87\n" or head[:2] == b"\xff\x0a":
        return "JPEG XL"
    if head[4:12] == b"jP  \r\n\x87\n" or head[:4] == b"\xffO\xffQ":
        return "JPEG 2000"
    if head[:4] == b"8BPS":
        return "Photoshop (PSD)"
    if head[:4] == b"v/1\x01":
        return "OpenEXR"
    return None


def svg_markup(data: bytes) -> bool:
    """XML text that opens an ``<svg`` element within its first 4 kB (after an XML prolog, a
    comment such as Inkscape's ``<!-- Created with Inkscape -->``, or a doctype)."""
    text = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(b"<") and b"<svg" in text and b"<html" not in text


#: first bytes of files that are given for images by mistake (a dataset's arrays), and what they are
NOT_IMAGES = (
    (b"\x93NUMPY", "a numpy array file (.npy), not an image: scan arrays from Python, "
     "dataeval_gpu.audit.scan(list(np.load(path)))"),
    (b"PK\x03\x04", "a zip archive (such as an .npz of arrays, or images to unpack and scan as a folder), not an image"),
    (b"%PDF-", "a PDF document, not an image"),
)  # fmt: skip


def idx_array(head: bytes) -> bool:
    """The header of an IDX file (MNIST's and Fashion-MNIST's arrays, unpacked from their .gz): two
    zero bytes, a type code, 1 to 4 dimensions."""
    return len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in (8, 9, 11, 12, 13, 14) and 1 <= head[3] <= 4


def unknown_format(data: bytes) -> str:
    """The reason for bytes that no decoder took (the failure path only: no hot path sniffs 4 kB)."""
    for magic, what in NOT_IMAGES:
        if data.startswith(magic):
            return f"unsupported format: {what}"
    if idx_array(data[:4]):
        return "unsupported format: an IDX array file (MNIST's format), not an image: load its arrays in Python"
    kind = sniff(data[:64])
    if kind == "svg" or (kind == "text" and svg_markup(data)):
        return "unsupported format: SVG (a vector drawing, not a raster image)"
    if kind == "text" or utf8_text(data[:64]):
        words = text_words(data)
        if words.startswith(("Image type:", "Image size")):  # Pillow's IM format opens with a text header
            return f"damaged IM image: its text header ({words!r}) is not one Pillow reads"
        return f"not an image: a text file (its first words: {words!r})"
    if data[:2] == b"\x1f\x8b":
        return (
            "unsupported format: gzip-compressed data (such as an .svgz drawing or a .gz file), not an image"
        )
    name = format_name(data[:16])
    if name is not None:
        return f"unsupported {name} image: no installed decoder reads it (first bytes: {data[:8].hex(' ')})"
    return f"unknown or unsupported image format (first bytes: {data[:8].hex(' ')})"


def text_words(data: bytes, width: int = 40) -> str:
    r"""The first line of a text file with a letter or digit in it (a line of ``#####`` names
    nothing), UTF-8 decoded (a character cut at the end dropped), at most ``width`` characters:
    a failed reason's preview.

    >>> text_words(b"#####\n# Thai input\nsection")
    '# Thai input'
    >>> text_words("section\n\n311d\t,1\t-\t# \u3105".encode())
    'section'
    >>> text_words(b"----\n")
    '----'
    """
    text = codecs.getincrementaldecoder("utf-8-sig")("replace").decode(data[:1024], final=False)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    words = next((line for line in lines if any(c.isalnum() for c in line)), lines[0] if lines else "")
    return words[:width]


def utf8_text(head: bytes) -> bool:
    """UTF-8 text beyond ASCII (a byte-order mark, a path with accents or CJK characters), with no
    control character but tab and line ends; a character cut at the end of ``head`` is fine.
    No image format starts so: PNG and JPEG open with bytes UTF-8 never starts with, the others
    hold NUL or control bytes within 64."""
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(c in "\t\n\r" or (c >= " " and c != "\x7f") for c in text)
