"""Pictures from outside: an upload checked from its header before it is decoded, then turned into a
small white-padded RGB square.

A PNG of 75 kB can declare 1 × 39,000,000 pixels, and one of 170 kB 6300 × 6300 RGBA: decoding them
takes tens of seconds and most of a gigabyte (a decompression bomb). The header says the format and
the size, so the bytes, the format, the pixel count and the aspect ratio are all checked before a
single pixel is decoded (`check_header`); only then is the picture decoded, once, and shrunk
(`decode_upload`: bytes -> (h, w, 3) uint8, at most `max_side` on its longer side).
"""
import io
from dataclasses import dataclass

import numpy as np

MAX_UPLOAD_BYTES = 5 * 2**20  # the same 5 MB as server.maxUploadSize in .streamlit/config.toml
# 4 megapixels decode in well under a second into about 16 MB (RGBA), enough for any photo shrunk to
# the 96×96 and 32×32 this page uses; larger pictures are refused before they are decoded.
MAX_UPLOAD_PIXELS = 4_000_000
MAX_ASPECT_RATIO = 20  # longer side / shorter side: a 1 × 39,000,000 strip is no picture to classify
MAX_SIDE = 256  # the decoded picture is shrunk to this: the page shows it at 96 and the model sees 32
# PIL names a camera's multi-picture JPEG (a photo plus a preview) "MPO"; its first picture is a plain JPEG.
UPLOAD_FORMATS = ("PNG", "JPEG", "MPO")
UPLOAD_SUFFIXES = (".png", ".jpg", ".jpeg")


def check_name(name: str | None) -> None:
    """ValueError unless the file's name ends in .png, .jpg or .jpeg: check_name('cat.JPG') passes.
    The content is checked on its own (`check_header`); a name that lies about it is refused too."""
    if not str(name or "").lower().endswith(UPLOAD_SUFFIXES):
        raise ValueError("The file's name does not end in .png, .jpg or .jpeg: upload a PNG or JPEG picture.")


@dataclass(frozen=True)
class Header:
    format: str  # 'PNG' or 'JPEG'
    width: int
    height: int
    mode: str  # PIL mode from the header: 'RGB', 'RGBA', 'P', 'L', ...


def check_header(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS,
                 max_aspect: float = MAX_ASPECT_RATIO) -> Header:
    """Read the header only and check bytes, format, pixel count and aspect ratio; ValueError says which failed.

    check_header(a 6300 × 6300 PNG) -> ValueError('The picture is 6,300×6,300 pixels (39.7 megapixels) ...')
    """
    from PIL import Image

    if not data:
        raise ValueError("The file is empty.")
    if len(data) > max_bytes:
        raise ValueError(f"The file is {len(data) / 2**20:.1f} MB; pictures up to {max_bytes / 2**20:.0f} MB are accepted.")
    try:
        image = Image.open(io.BytesIO(data))  # lazy: parses the header, decodes no pixel
    except Image.DecompressionBombError as err:  # PIL's own limit (179 megapixels), far above ours
        raise ValueError(f"The picture's header declares hundreds of megapixels; at most {max_pixels / 1e6:.0f} "
                         "megapixels are accepted (a small file can declare a huge picture: it is refused before "
                         "decoding).") from err
    except Exception as err:  # whatever a malformed header makes the parser raise, the file is not a picture
        raise ValueError(f"This is not a PNG or JPEG picture that can be read ({type(err).__name__}).") from err
    if image.format not in UPLOAD_FORMATS:
        raise ValueError(f"This is a {image.format} file; upload a PNG or JPEG picture.")
    w, h = image.size
    if w < 1 or h < 1:
        raise ValueError(f"The picture's header says {w}×{h} pixels: there is nothing to show.")
    if w * h > max_pixels:
        raise ValueError(f"The picture is {w:,}×{h:,} pixels ({w * h / 1e6:.1f} megapixels); at most "
                         f"{max_pixels / 1e6:.0f} megapixels are accepted (a small file can declare a huge picture: "
                         "it is refused before decoding). Shrink it and upload it again.")
    if max(w, h) > max_aspect * min(w, h):
        raise ValueError(f"The picture is {w:,}×{h:,} pixels, {max(w, h) / min(w, h):,.0f}:1; at most "
                         f"{max_aspect:.0f}:1 is accepted (padded to a square, it would be a thin line).")
    return Header("JPEG" if image.format == "MPO" else image.format, w, h, image.mode)


def to_rgb(image):
    """A PIL image in any mode -> RGB; transparent pixels become white (our pictures' background)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
    return image.convert("RGB")


def to_model_picture(image, size: int) -> np.ndarray:
    """A PIL image or a uint8 array (h, w, 3) -> RGB, padded to a square with white (not cropped: a crop
    would cut off the shapes on the left and right), resized to size×size (bicubic, antialiased)
    -> (size, size, 3) uint8."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image = to_rgb(image)
    w, h = image.size
    if w != h:
        square = Image.new("RGB", (max(w, h), max(w, h)), (255, 255, 255))
        square.paste(image, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
        image = square
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def load_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS,
                max_side: int = MAX_SIDE, max_aspect: float = MAX_ASPECT_RATIO):
    """Bytes of an uploaded file -> a PIL RGB image at most max_side on its longer side.

    Raises ValueError with a message for the user when `check_header` refuses the file, or when it
    cannot be decoded (corrupt or truncated)."""
    from PIL import Image

    check_header(data, max_bytes, max_pixels, max_aspect)
    image = Image.open(io.BytesIO(data))
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", (max_side, max_side))  # let the JPEG decoder shrink by 2/4/8 while decoding
    try:
        image.load()
    except Exception as err:  # a decoder failing on a checked header means damaged or truncated data
        raise ValueError(f"The picture is damaged or cut short and cannot be decoded ({err}).") from err
    image = to_rgb(image)
    image.thumbnail((max_side, max_side), Image.BICUBIC)
    return image


def decode_upload(data: bytes, max_side: int = MAX_SIDE) -> np.ndarray:
    """Bytes -> the checked, decoded, shrunk picture as (h, w, 3) uint8, h and w at most max_side: small
    enough to cache (at most 256 × 256 × 3 = 192 KiB) so a page decodes each upload once."""
    return np.asarray(load_upload(data, max_side=max_side), dtype=np.uint8)
