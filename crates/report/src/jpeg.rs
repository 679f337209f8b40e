//! Just enough of a JPEG header to embed the file as it is (DCTDecode):
//! its size and number of colour components, from the SOF segment.

/// What the PDF needs to know of a JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u32,
    pub height: u32,
    /// 1 (grey), 3 (YCbCr/RGB) or 4 (CMYK).
    pub components: u8,
}

/// Reads the frame header. `None` when the bytes are not a baseline,
/// extended or progressive JPEG with a sensible frame.
pub fn info(bytes: &[u8]) -> Option<JpegInfo> {
    if bytes.get(..2)? != [0xff, 0xd8] {
        return None;
    }
    let mut i = 2usize;
    loop {
        // Skip fill bytes before a marker.
        while *bytes.get(i)? == 0xff && *bytes.get(i + 1)? == 0xff {
            i += 1;
        }
        if *bytes.get(i)? != 0xff {
            return None;
        }
        let marker = *bytes.get(i + 1)?;
        i += 2;
        match marker {
            // Stand-alone markers carry no length.
            0x01 | 0xd0..=0xd7 => continue,
            0xd9 | 0xda => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
        if is_sof {
            let seg = bytes.get(i + 2..i + len)?;
            // precision, height (2), width (2), components.
            let height = u32::from(u16::from_be_bytes([*seg.get(1)?, *seg.get(2)?]));
            let width = u32::from(u16::from_be_bytes([*seg.get(3)?, *seg.get(4)?]));
            let components = *seg.get(5)?;
            if *seg.first()? != 8 || width == 0 || height == 0 {
                return None;
            }
            if !matches!(components, 1 | 3 | 4) {
                return None;
            }
            return Some(JpegInfo {
                width,
                height,
                components,
            });
        }
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_jpeg() {
        assert_eq!(info(b""), None);
        assert_eq!(info(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(info(&[0xff, 0xd8, 0xff, 0xd9]), None);
        // A truncated segment.
        assert_eq!(info(&[0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08]), None);
    }

    #[test]
    fn reads_a_minimal_frame_header() {
        let mut b = vec![0xff, 0xd8];
        b.extend_from_slice(&[0xff, 0xe0, 0x00, 0x04, 0x00, 0x00]); // APP0
        b.extend_from_slice(&[0xff, 0xc2, 0x00, 0x0b, 0x08, 0x01, 0x2c, 0x02, 0x58, 0x03]);
        b.extend_from_slice(&[0u8; 3]);
        assert_eq!(
            info(&b),
            Some(JpegInfo {
                width: 600,
                height: 300,
                components: 3
            })
        );
    }
}
