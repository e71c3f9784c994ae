//! Where policies come from.
