//! Guard-page allocator (in progress).
