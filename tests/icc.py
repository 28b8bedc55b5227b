"""A small, valid ICC v2 RGB display profile made here: matrix/TRC with chosen primaries."""

from __future__ import annotations

import struct

D50 = (0.9642, 1.0, 0.8249)
# sRGB's primaries adapted to D50, the columns of its RGB → XYZ matrix.
SRGB_PRIMARIES = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def _curve(gamma: float) -> bytes:
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def _desc(text: str) -> bytes:
    ascii_ = text.encode() + b"\x00"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_)) + ascii_ + bytes(8) + bytes(3) + bytes(67)


def rgb_profile(primaries: tuple[tuple[float, float, float], ...], gamma: float = 2.2, name: str = "test") -> bytes:
    """Primaries are the XYZ (D50) of the red, green and blue channels."""
    tags = [
        (b"desc", _desc(name)),
        (b"cprt", b"text" + bytes(4) + b"public domain\x00"),
        (b"wtpt", _xyz(*D50)),
        (b"rXYZ", _xyz(*primaries[0])),
        (b"gXYZ", _xyz(*primaries[1])),
        (b"bXYZ", _xyz(*primaries[2])),
        (b"rTRC", _curve(gamma)),
        (b"gTRC", _curve(gamma)),
        (b"bTRC", _curve(gamma)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + b"APPL"
        + bytes(4)
        + bytes(4)
        + bytes(4)
        + bytes(8)
        + struct.pack(">I", 0)
        + _s15(D50[0])
        + _s15(D50[1])
        + _s15(D50[2])
        + b"lcms"
        + bytes(16)
        + bytes(28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data
