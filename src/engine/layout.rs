//! Channels-last maps and their channels-first view.
//!
//! The engine stores every map after the analog layers channels-last (HWC): the values of
//! one pixel are contiguous, so a kernel adds a whole vector of output channels with one
//! weight row, and the spikes of one pixel form one short event list. The model file and the
//! public API speak channels-first (CHW); the conversions are here.

use crate::layers::Shape;

/// CHW → HWC.
pub(crate) fn to_channels_last(chw: &[f32], shape: Shape, hwc: &mut [f32]) {
    let (channels, plane) = (shape.channels, shape.plane());
    for (c, channel) in chw.chunks_exact(plane).enumerate() {
        for (p, &v) in channel.iter().enumerate() {
            hwc[p * channels + c] = v;
        }
    }
}

/// A channels-last map read in channels-first order (channel by channel, each channel
/// row-major), as the model format and the public API lay maps out. Iterating yields
/// `&f32`; compare two views with `==`.
#[derive(Clone, Copy, Debug)]
pub struct ChannelsFirst<'a> {
    hwc: &'a [f32],
    channels: usize,
}

impl<'a> ChannelsFirst<'a> {
    pub(crate) fn new(hwc: &'a [f32], channels: usize) -> Self {
        assert!(
            channels > 0 && hwc.len() % channels == 0,
            "map of whole pixels"
        );
        ChannelsFirst { hwc, channels }
    }

    /// Number of values (channels × pixels).
    pub fn len(&self) -> usize {
        self.hwc.len()
    }

    /// Whether the map has no values.
    pub fn is_empty(&self) -> bool {
        self.hwc.is_empty()
    }

    /// The value of channel `channel` at flat pixel index `pixel` (`y * width + x`).
    pub fn get(&self, channel: usize, pixel: usize) -> f32 {
        self.hwc[pixel * self.channels + channel]
    }

    /// The values in CHW order: channel 0's pixels row by row, then channel 1's, and so on.
    pub fn iter(&self) -> ChannelsFirstIter<'a> {
        ChannelsFirstIter {
            hwc: self.hwc,
            channels: self.channels,
            next: 0,
            channel: 0,
        }
    }

    /// The values in CHW order.
    pub fn to_vec(&self) -> Vec<f32> {
        self.iter().copied().collect()
    }

    /// The underlying channels-last (HWC) values.
    pub fn channels_last(&self) -> &'a [f32] {
        self.hwc
    }
}

impl PartialEq for ChannelsFirst<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.channels == other.channels && self.hwc == other.hwc
    }
}

impl<'a> IntoIterator for ChannelsFirst<'a> {
    type Item = &'a f32;
    type IntoIter = ChannelsFirstIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a channels-last map in channels-first order.
#[derive(Clone, Debug)]
pub struct ChannelsFirstIter<'a> {
    hwc: &'a [f32],
    channels: usize,
    /// Index in `hwc` of the next value.
    next: usize,
    /// Channel of the next value.
    channel: usize,
}

impl<'a> Iterator for ChannelsFirstIter<'a> {
    type Item = &'a f32;

    fn next(&mut self) -> Option<&'a f32> {
        let value = self.hwc.get(self.next)?;
        self.next += self.channels;
        if self.next >= self.hwc.len() {
            self.channel += 1;
            // Past the last channel this points past the end, which ends the iteration.
            self.next = if self.channel < self.channels {
                self.channel
            } else {
                self.hwc.len()
            };
        }
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.len();
        (len, Some(len))
    }
}

impl ExactSizeIterator for ChannelsFirstIter<'_> {
    fn len(&self) -> usize {
        if self.next >= self.hwc.len() {
            return 0;
        }
        let pixels = self.hwc.len() / self.channels;
        let done_in_channel = self.next / self.channels;
        (self.channels - self.channel) * pixels - done_in_channel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_first_view_inverts_to_channels_last() {
        let shape = Shape::new(3, 2, 2);
        let chw: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let mut hwc = vec![0.0; 12];
        to_channels_last(&chw, shape, &mut hwc);
        assert_eq!(&hwc[..6], &[0.0, 4.0, 8.0, 1.0, 5.0, 9.0]);
        let view = ChannelsFirst::new(&hwc, 3);
        assert_eq!(view.to_vec(), chw);
        assert_eq!(view.get(2, 1), 9.0);
        let mut iter = view.iter();
        assert_eq!(iter.len(), 12);
        iter.nth(4);
        assert_eq!(iter.len(), 7);
        assert_eq!(iter.count(), 7);
    }
}
