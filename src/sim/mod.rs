//! orbsim
