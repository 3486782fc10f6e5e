//! Partition keys as PostgreSQL sees them: typed values, sets of values, and
//! the analysis of an expression into the set of key values for which it can
//! be true. Shared by the catalog (CHECK constraints) and the router (WHERE
//! clauses); pure functions, no I/O.

pub mod compare;
pub mod describe;
pub mod param;
pub mod predicate;
pub mod set;
pub mod typed;
pub mod value;

pub use compare::{Assigning, CmpOp, Comparing};
pub use param::{Param, ParamValue, Reading};
pub use predicate::{analyze, KeyColumn, KeyPredicate, Truth};
pub use set::{Bound, Interval, KeySet, Modulo, RangeSet};
pub use typed::{SqlType, Typed};
pub use value::{KeyType, KeyValue, Num, TimeZoneRule, TypMod};
