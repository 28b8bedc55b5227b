"""JPEG XL for Pillow: libjxl's decoder for reading, imagecodecs' encoder for writing.

imagecodecs (BSD-3) ships libjxl (BSD-3) in its wheels for x86_64 and aarch64; its own decoder returns pixels
but neither the header alone nor the colour profile the pixels are in. So reading calls libjxl's decoder API
(decode.h, a stable C API) from the library imagecodecs ships, through ctypes:

- the header (size, orientation, alpha, animation) without decoding, for the limits checked before a decode;
- the pixels of the first frame as 8-bit, oriented (libjxl applies the codestream's orientation), one thread
  (a worker runs a job per core);
- the ICC profile of those pixels (JXL_COLOR_PROFILE_TARGET_DATA), so a wide-gamut or ICC-tagged JXL is
  converted to sRGB like any other source (tasks/imaging/color.py);
- the Exif and XMP boxes of the container, for keep_metadata.

A JXL made losslessly from a JPEG (cjxl's default for JPEG input) carries the data to rebuild that JPEG
bit for bit (its jbrd box): ``jpeg_bytes`` rebuilds it, and the worker reads that JPEG instead, with the JPEG's
shrink-on-load, EXIF and ICC profile.

Where the wheel or its library is missing, ``MISSING`` says why; JXL sources are then refused with the reason
and the worker says so as it starts.
"""

from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass
from typing import IO, Any

from PIL import Image, ImageFile

JXL_CODESTREAM = b"\xff\x0a"
JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \x0d\x0a\x87\x0a"

# decode.h
_SUCCESS, _ERROR, _NEED_MORE_INPUT, _NEED_IMAGE_OUT_BUFFER = 0, 1, 2, 5
_BASIC_INFO, _COLOR_ENCODING, _FULL_IMAGE = 0x40, 0x100, 0x1000
_TARGET_DATA = 1
_UINT8, _NATIVE_ENDIAN = 2, 0
METADATA_BYTES = 1 << 20


class _BasicInfo(ctypes.Structure):
    """JxlBasicInfo (codestream_header.h), as laid out since libjxl 0.7."""

    _fields_ = [
        ("have_container", ctypes.c_int),
        ("xsize", ctypes.c_uint32),
        ("ysize", ctypes.c_uint32),
        ("bits_per_sample", ctypes.c_uint32),
        ("exponent_bits_per_sample", ctypes.c_uint32),
        ("intensity_target", ctypes.c_float),
        ("min_nits", ctypes.c_float),
        ("relative_to_max_display", ctypes.c_int),
        ("linear_below", ctypes.c_float),
        ("uses_original_profile", ctypes.c_int),
        ("have_preview", ctypes.c_int),
        ("have_animation", ctypes.c_int),
        ("orientation", ctypes.c_int),
        ("num_color_channels", ctypes.c_uint32),
        ("num_extra_channels", ctypes.c_uint32),
        ("alpha_bits", ctypes.c_uint32),
        ("alpha_exponent_bits", ctypes.c_uint32),
        ("alpha_premultiplied", ctypes.c_int),
        ("preview_xsize", ctypes.c_uint32),
        ("preview_ysize", ctypes.c_uint32),
        ("tps_numerator", ctypes.c_uint32),
        ("tps_denominator", ctypes.c_uint32),
        ("num_loops", ctypes.c_uint32),
        ("have_timecodes", ctypes.c_int),
        ("intrinsic_xsize", ctypes.c_uint32),
        ("intrinsic_ysize", ctypes.c_uint32),
        ("padding", ctypes.c_uint8 * 100),
    ]


class _PixelFormat(ctypes.Structure):
    _fields_ = [
        ("num_channels", ctypes.c_uint32),
        ("data_type", ctypes.c_int),
        ("endianness", ctypes.c_int),
        ("align", ctypes.c_size_t),
    ]


class JxlError(ValueError):
    """The data is not a JPEG XL libjxl can read (or is cut short)."""


def _load() -> tuple[ctypes.CDLL | None, str | None]:
    try:
        import imagecodecs
    except ImportError as missing:
        return None, f"imagecodecs cannot be loaded here ({missing})"
    if not imagecodecs.JPEGXL.available:
        return None, "this imagecodecs was built without JPEG XL"
    # The wheel's own copy (auditwheel names it libjxl-<hash>.so.<version>), else the system's.
    base = os.path.dirname(os.path.dirname(imagecodecs.__file__))
    found = sorted(glob.glob(os.path.join(base, "imagecodecs.libs", "libjxl-*.so*")))
    names = [*found, "libjxl.so.0.11", "libjxl.so"]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if lib.JxlDecoderVersion() < 9000:  # GetICCProfileSize lost an argument in 0.9
            continue
        _declare(lib)
        return lib, None
    return None, "libjxl (0.9 or later) cannot be loaded from imagecodecs' wheel or the system"


def _declare(lib: ctypes.CDLL) -> None:
    p, size, u32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32
    lib.JxlDecoderVersion.restype = u32
    lib.JxlDecoderCreate.restype = p
    lib.JxlDecoderCreate.argtypes = [p]
    lib.JxlDecoderDestroy.argtypes = [p]
    lib.JxlDecoderSubscribeEvents.argtypes = [p, ctypes.c_int]
    lib.JxlDecoderSetInput.argtypes = [p, ctypes.c_char_p, size]
    lib.JxlDecoderCloseInput.argtypes = [p]
    lib.JxlDecoderProcessInput.argtypes = [p]
    lib.JxlDecoderGetBasicInfo.argtypes = [p, ctypes.POINTER(_BasicInfo)]
    lib.JxlDecoderGetICCProfileSize.argtypes = [p, ctypes.c_int, ctypes.POINTER(size)]
    lib.JxlDecoderGetColorAsICCProfile.argtypes = [p, ctypes.c_int, ctypes.c_char_p, size]
    lib.JxlDecoderImageOutBufferSize.argtypes = [p, ctypes.POINTER(_PixelFormat), ctypes.POINTER(size)]
    lib.JxlDecoderSetImageOutBuffer.argtypes = [p, ctypes.POINTER(_PixelFormat), p, size]


_LIB, MISSING = _load()


@dataclass(frozen=True)
class Header:
    width: int
    """Upright: after the codestream's orientation."""
    height: int
    alpha: bool
    grey: bool
    animated: bool

    @property
    def mode(self) -> str:
        return ("L" if self.grey else "RGB") + ("A" if self.alpha else "")


def _header(info: _BasicInfo) -> Header:
    width, height = info.xsize, info.ysize
    if info.orientation > 4:  # 5..8 turn the image a quarter
        width, height = height, width
    return Header(width, height, info.alpha_bits > 0, info.num_color_channels == 1, bool(info.have_animation))


class _Decoder:
    def __init__(self, data: bytes, events: int) -> None:
        if _LIB is None:
            raise JxlError(MISSING)
        self.lib, self.data = _LIB, data  # the input stays referenced while libjxl reads it
        self.dec = self.lib.JxlDecoderCreate(None)
        if not self.dec:
            raise MemoryError("libjxl could not make a decoder")
        self._check(self.lib.JxlDecoderSubscribeEvents(self.dec, events), "subscribe")
        self._check(self.lib.JxlDecoderSetInput(self.dec, data, len(data)), "input")
        self.lib.JxlDecoderCloseInput(self.dec)

    def __enter__(self) -> _Decoder:
        return self

    def __exit__(self, *_: object) -> None:
        self.lib.JxlDecoderDestroy(self.dec)

    def _check(self, status: int, what: str) -> None:
        if status != _SUCCESS:
            raise JxlError(f"libjxl refused the {what} (status {status})")

    def next(self) -> int:
        status = int(self.lib.JxlDecoderProcessInput(self.dec))
        if status == _ERROR:
            raise JxlError("the JPEG XL data is invalid")
        if status == _NEED_MORE_INPUT:
            raise JxlError("the JPEG XL data is cut short")
        return status

    def basic_info(self) -> _BasicInfo:
        info = _BasicInfo()
        self._check(self.lib.JxlDecoderGetBasicInfo(self.dec, ctypes.byref(info)), "header")
        return info

    def icc(self) -> bytes:
        size = ctypes.c_size_t()
        self._check(self.lib.JxlDecoderGetICCProfileSize(self.dec, _TARGET_DATA, ctypes.byref(size)), "profile")
        profile = ctypes.create_string_buffer(size.value)
        self._check(self.lib.JxlDecoderGetColorAsICCProfile(self.dec, _TARGET_DATA, profile, size.value), "profile")
        return profile.raw


def header(data: bytes) -> Header:
    """The header alone: nothing is decoded."""
    with _Decoder(data, _BASIC_INFO) as decoder:
        while decoder.next() != _BASIC_INFO:
            pass
        return _header(decoder.basic_info())


def decode(data: bytes) -> tuple[Header, bytes, bytes]:
    """The first frame, upright, 8 bits per sample: the header, the pixels and the profile they are in."""
    with _Decoder(data, _BASIC_INFO | _COLOR_ENCODING | _FULL_IMAGE) as decoder:
        head: Header | None = None
        icc = b""
        pixels = None
        while True:
            status = decoder.next()
            if status == _BASIC_INFO:
                head = _header(decoder.basic_info())
            elif status == _COLOR_ENCODING:
                icc = decoder.icc()
            elif status == _NEED_IMAGE_OUT_BUFFER and head is not None:
                fmt = _PixelFormat(len(head.mode), _UINT8, _NATIVE_ENDIAN, 0)
                size = ctypes.c_size_t()
                lib = decoder.lib
                decoder._check(
                    lib.JxlDecoderImageOutBufferSize(decoder.dec, ctypes.byref(fmt), ctypes.byref(size)), "size"
                )
                pixels = ctypes.create_string_buffer(size.value)
                decoder._check(
                    lib.JxlDecoderSetImageOutBuffer(decoder.dec, ctypes.byref(fmt), pixels, size.value), "buffer"
                )
            elif status == _FULL_IMAGE and head is not None and pixels is not None:
                return head, pixels.raw, icc
            elif status == _SUCCESS:
                raise JxlError("the JPEG XL data holds no image")


def _boxes(data: bytes) -> dict[bytes, bytes]:
    """A container's top-level boxes by type (the first of each)."""
    found: dict[bytes, bytes] = {}
    if not data.startswith(JXL_CONTAINER):
        return found
    at = 0
    while at + 8 <= len(data):
        size, kind, body = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8], at + 8
        if size == 1 and at + 16 <= len(data):
            size, body = int.from_bytes(data[at + 8 : at + 16], "big"), at + 16
        elif size == 0:
            size = len(data) - at
        if size < body - at:
            break
        content = data[body : at + size]
        if kind == b"brob" and len(content) > 4:  # a Brotli-compressed box: its type, then the stream
            kind, content = content[:4], _unbrotli(content[4:])
        found.setdefault(kind, content)
        at += size
    return found


def _unbrotli(data: bytes) -> bytes:
    """At most METADATA_BYTES out: a metadata box that inflates beyond that is dropped."""
    import imagecodecs

    try:
        return bytes(imagecodecs.brotli_decode(data, out=METADATA_BYTES))
    except imagecodecs.BrotliError:
        return b""


def jpeg_bytes(data: bytes) -> bytes | None:
    """The JPEG a lossless recompression was made from, rebuilt, or None when the JXL is not one."""
    if b"jbrd" not in _boxes(data):
        return None
    import imagecodecs

    try:
        return bytes(imagecodecs.jpegxl_decode_jpeg(data, numthreads=1))
    except imagecodecs.JpegxlError as exc:
        raise JxlError(f"the JPEG inside the JPEG XL cannot be rebuilt: {exc}") from None


class JxlImageFile(ImageFile.ImageFile):
    format = "JXL"
    format_description = "JPEG XL"

    def _open(self) -> None:
        assert self.fp is not None
        self._data: bytes | None = self.fp.read()
        try:
            head = header(self._data)
        except JxlError as exc:
            raise SyntaxError(str(exc)) from None
        self._mode, self._size = head.mode, (head.width, head.height)
        self.n_frames, self.is_animated = 1, False  # the first frame is the image
        boxes = _boxes(self._data)
        exif = boxes.get(b"Exif")
        if exif and len(exif) > 8:  # a 4-byte offset to the TIFF header, then the TIFF header
            tiff = exif[4 + int.from_bytes(exif[:4], "big") :]
            self.info["exif"] = _upright(b"Exif\x00\x00" + tiff)
        if b"xml " in boxes:
            self.info["xmp"] = boxes[b"xml "]
        self.tile = []

    def load(self) -> Any:
        if self._data is not None:
            try:
                head, pixels, icc = decode(self._data)
            except JxlError as exc:
                raise OSError(str(exc)) from None
            if icc:
                self.info["icc_profile"] = icc
            self._size = (head.width, head.height)
            self.load_prepare()
            self.frombytes(pixels, "raw", head.mode)
            self._data = None
        return super().load()


def _upright(exif: bytes) -> bytes:
    """libjxl applies the codestream's orientation: an EXIF orientation beside it must not turn the image again."""
    tags = Image.Exif()
    tags.load(exif)
    if tags.get(0x0112, 1) == 1:
        return exif
    tags[0x0112] = 1
    return b"Exif\x00\x00" + tags.tobytes()


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(JXL_CODESTREAM) or prefix.startswith(JXL_CONTAINER)


def _save(image: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    import imagecodecs
    import numpy

    info = image.encoderinfo
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    lossless = bool(info.get("lossless"))
    encoded = imagecodecs.jpegxl_encode(
        numpy.asarray(image),
        level=None if lossless else int(info.get("quality", 75)),
        effort=int(info.get("effort", 4)),
        lossless=lossless or None,
        numthreads=1,
    )
    fp.write(encoded)


if _LIB is not None:
    Image.register_open(JxlImageFile.format, JxlImageFile, _accept)
    Image.register_save(JxlImageFile.format, _save)
    Image.register_extensions(JxlImageFile.format, [".jxl"])
    Image.register_mime(JxlImageFile.format, "image/jxl")
