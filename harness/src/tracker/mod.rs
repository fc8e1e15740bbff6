//! Lock-holder tracker (in progress).
