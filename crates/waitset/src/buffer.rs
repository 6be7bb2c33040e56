//! Small helpers for kernel output buffers.

/// A rustix output buffer over the spare capacity of `v` that appends what the kernel wrote.
pub(crate) fn spare<T>(v: &mut Vec<T>, max: usize) -> rustix::buffer::SpareCapacity<'_, T> {
    v.reserve(max);
    rustix::buffer::spare_capacity(v)
}
