//! The operations the master applies to one key's current value. Each is a
//! pure function from (current value, operand) to the new value, so the engine
//! can validate the result before anything changes.

use canopy_schemas::state::OpKind;
use canopy_schemas::ErrorCode;
use rmpv::Value;

/// An operation's failure: code and sentence.
pub type OpError = (ErrorCode, String);

fn mismatch(msg: String) -> OpError {
    (ErrorCode::TypeMismatch, msg)
}

/// Decodes a MessagePack operand.
pub fn decode(bytes: &[u8]) -> Result<Value, OpError> {
    let mut slice = bytes;
    let v = rmpv::decode::read_value(&mut slice)
        .map_err(|e| mismatch(format!("value is not MessagePack: {e}")))?;
    if !slice.is_empty() {
        return Err(mismatch(
            "value has trailing bytes after one MessagePack value".into(),
        ));
    }
    Ok(v)
}

/// Encodes a value.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, v);
    out
}

fn operand(op: OpKind, value: Option<&Value>) -> Result<&Value, OpError> {
    value.ok_or_else(|| mismatch(format!("{op:?} needs a value")))
}

/// The new value of a key (None = deleted) after `op`, given its current
/// value (None = absent). Put-if-absent and compare-and-set are checked by the
/// engine, which knows the key's sequence.
pub fn apply(
    op: OpKind,
    key: &str,
    current: Option<&Value>,
    value: Option<&Value>,
    by: i64,
) -> Result<Option<Value>, OpError> {
    Ok(match op {
        OpKind::Put | OpKind::PutIfAbsent | OpKind::Cas => Some(operand(op, value)?.clone()),
        OpKind::Delete | OpKind::DeleteSubtree => None,
        OpKind::Incr | OpKind::Decr => {
            let by = if op == OpKind::Decr {
                by.checked_neg()
            } else {
                Some(by)
            };
            let base = match current {
                None => 0i64,
                Some(v) => v.as_i64().ok_or_else(|| {
                    mismatch(format!("{key}: {op:?} needs an integer, the key holds {v}"))
                })?,
            };
            let next = by
                .and_then(|b| base.checked_add(b))
                .ok_or_else(|| mismatch(format!("{key}: integer overflow")))?;
            Some(Value::from(next))
        }
        OpKind::Append => {
            let add = operand(op, value)?;
            Some(match (current, add) {
                (None, v) => v.clone(),
                (Some(Value::String(a)), Value::String(b)) => {
                    let mut s = a.as_str().unwrap_or_default().to_owned();
                    s.push_str(b.as_str().unwrap_or_default());
                    Value::from(s)
                }
                (Some(Value::Binary(a)), Value::Binary(b)) => {
                    let mut out = a.clone();
                    out.extend_from_slice(b);
                    Value::Binary(out)
                }
                (Some(Value::Array(a)), v) => {
                    let mut out = a.clone();
                    out.push(v.clone());
                    Value::Array(out)
                }
                (Some(cur), v) => {
                    return Err(mismatch(format!(
                    "{key}: cannot append {v} to {cur} (append works on strings, bytes and lists)"
                )))
                }
            })
        }
        OpKind::SetInsert | OpKind::SetRemove => {
            let item = operand(op, value)?;
            let mut set = match current {
                None => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(cur) => {
                    return Err(mismatch(format!(
                        "{key}: {op:?} needs a set (a list), the key holds {cur}"
                    )))
                }
            };
            if op == OpKind::SetInsert {
                if !set.contains(item) {
                    set.push(item.clone());
                }
            } else {
                set.retain(|v| v != item);
            }
            Some(Value::Array(set))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        op: OpKind,
        cur: Option<Value>,
        val: Option<Value>,
        by: i64,
    ) -> Result<Option<Value>, OpError> {
        apply(op, "k", cur.as_ref(), val.as_ref(), by)
    }

    #[test]
    fn arithmetic_append_and_sets() {
        assert_eq!(
            run(OpKind::Incr, None, None, 5).unwrap(),
            Some(Value::from(5))
        );
        assert_eq!(
            run(OpKind::Decr, Some(Value::from(5)), None, 2).unwrap(),
            Some(Value::from(3))
        );
        assert_eq!(
            run(OpKind::Incr, Some(Value::from("x")), None, 1)
                .unwrap_err()
                .0,
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            run(OpKind::Incr, Some(Value::from(i64::MAX)), None, 1)
                .unwrap_err()
                .0,
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            run(
                OpKind::Append,
                Some(Value::from("ab")),
                Some(Value::from("c")),
                0
            )
            .unwrap(),
            Some(Value::from("abc"))
        );
        assert_eq!(
            run(
                OpKind::Append,
                Some(Value::Binary(vec![1])),
                Some(Value::Binary(vec![2])),
                0
            )
            .unwrap(),
            Some(Value::Binary(vec![1, 2]))
        );
        assert_eq!(
            run(
                OpKind::Append,
                Some(Value::Array(vec![Value::from(1)])),
                Some(Value::from(2)),
                0
            )
            .unwrap(),
            Some(Value::Array(vec![Value::from(1), Value::from(2)]))
        );
        assert!(run(
            OpKind::Append,
            Some(Value::from(1)),
            Some(Value::from(2)),
            0
        )
        .is_err());
        let s = run(OpKind::SetInsert, None, Some(Value::from("a")), 0).unwrap();
        let s = run(OpKind::SetInsert, s, Some(Value::from("a")), 0).unwrap();
        assert_eq!(s, Some(Value::Array(vec![Value::from("a")])));
        let s = run(OpKind::SetRemove, s, Some(Value::from("a")), 0).unwrap();
        assert_eq!(s, Some(Value::Array(vec![])));
        assert!(run(OpKind::Put, None, None, 0).is_err());
        assert!(decode(&[0xa5, b'a']).is_err());
        assert!(decode(&[0x01, 0x02]).is_err());
        assert_eq!(
            decode(&encode(&Value::from("x"))).unwrap(),
            Value::from("x")
        );
    }
}
