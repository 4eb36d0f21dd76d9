"""Pictures from outside: an upload checked before it is decoded, then turned into a white-padded RGB square.

A PNG of a few kilobytes can declare billions of pixels (a decompression bomb), so the size and the pixel
count are read from the header first; only then is the picture decoded and shrunk.
"""

import numpy as np

MAX_UPLOAD_BYTES = 5 * 2**20  # the same 5 MB as server.maxUploadSize in .streamlit/config.toml
MAX_UPLOAD_PIXELS = 40_000_000  # larger pictures are refused before they are decoded
UPLOAD_FORMATS = ("PNG", "JPEG")

def to_rgb(image):
    """A PIL image in any mode -> RGB; transparent pixels become white (our pictures' background)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
    return image.convert("RGB")


def to_model_picture(image, size: int) -> np.ndarray:
    """A PIL image -> RGB, padded to a square with white (not cropped: a crop would cut off the
    shapes on the left and right), resized to size×size (bicubic, antialiased) -> (size, size, 3) uint8."""
    from PIL import Image

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
                max_side: int = 512):
    """Bytes of an uploaded file -> a PIL RGB image at most max_side on its longer side.

    Raises ValueError with a message for the user when the file is empty, too large, not a PNG or
    JPEG, has too many pixels (checked from the header, before decoding: no decompression bomb),
    or cannot be decoded."""
    import io

    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ValueError("The file is empty.")
    if len(data) > max_bytes:
        raise ValueError(f"The file is {len(data) / 2**20:.1f} MB; pictures up to {max_bytes / 2**20:.0f} MB are accepted.")
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as err:
        raise ValueError(f"This is not a PNG or JPEG picture that can be read ({type(err).__name__}).") from err
    if image.format not in UPLOAD_FORMATS:
        raise ValueError(f"This is a {image.format} file; upload a PNG or JPEG picture.")
    w, h = image.size
    if w * h > max_pixels:
        raise ValueError(f"The picture is {w:,}×{h:,} pixels; at most {max_pixels / 1e6:.0f} megapixels are accepted.")
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))  # let the JPEG decoder shrink by 2/4/8 while decoding
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"The picture is damaged and cannot be decoded ({err}).") from err
    image = to_rgb(image)
    image.thumbnail((max_side, max_side), Image.BICUBIC)
    return image

