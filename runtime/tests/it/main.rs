//! rust2sky's runtime tests: one binary, a module per area.

mod propagation;
mod readme;
