//! An event table's schema: created from the first file's columns,
//! evolved as the registry's schema versions add properties, and projected
//! onto each data file.
//!
//! Evolution follows the registry: a column or struct field a file has and
//! the table lacks is added, optional (new optional properties become new
//! columns; Iceberg gives them fresh field ids, so files written before
//! read them as null). A column whose type differs from the table's — what
//! `tributary-schema check` refuses, but two apps may give one event name
//! different types — is written, for files of that schema id, as a column
//! of its own, `<name>__s<schema id>`, instead of failing the segment.

use iceberg::spec::{NestedFieldRef, Schema, Type};
use iceberg::transaction::AddColumn;
use std::collections::HashMap;

/// An optional column or struct field to add.
#[derive(Debug, Clone, PartialEq)]
pub struct Addition {
    /// The dotted path of the struct it goes into; `None` for a column.
    pub parent: Option<String>,
    /// Its name.
    pub name: String,
    /// Its type (field ids are assigned by Iceberg).
    pub ty: Type,
}

impl Addition {
    fn column(name: &str, ty: &Type) -> Addition {
        Addition {
            parent: None,
            name: name.to_owned(),
            ty: ty.clone(),
        }
    }

    /// As Iceberg's schema update takes it.
    pub fn to_add_column(&self) -> AddColumn {
        match &self.parent {
            None => AddColumn::optional(&self.name, self.ty.clone()),
            Some(p) => AddColumn::builder()
                .parent(p.clone())
                .name(self.name.clone())
                .field_type(self.ty.clone())
                .build(),
        }
    }
}

/// What a file needs of its table.
#[derive(Debug, Default)]
pub struct Plan {
    /// File column → the column it is written as (type conflicts).
    pub renames: HashMap<String, String>,
    /// Columns and struct fields to add first.
    pub additions: Vec<Addition>,
}

impl Plan {
    /// Whether the table's schema must change.
    pub fn changes_schema(&self) -> bool {
        !self.additions.is_empty()
    }
}

/// The plan for a file of columns `file` (an Iceberg schema converted from
/// the file's Arrow fields, ids arbitrary) of schema id `schema_id` against
/// the table's `table` schema.
pub fn plan(table: &Schema, file: &Schema, schema_id: Option<u32>) -> Plan {
    let mut plan = Plan::default();
    for f in file.as_struct().fields() {
        match table.as_struct().field_by_name(&f.name) {
            None => plan
                .additions
                .push(Addition::column(&f.name, &f.field_type)),
            Some(t) => {
                let mut nested = Vec::new();
                let dotted = f.name.contains('.');
                if compare(&t.field_type, &f.field_type, &f.name, dotted, &mut nested).is_err() {
                    let renamed = format!("{}__s{}", f.name, schema_id.unwrap_or(0));
                    if table.as_struct().field_by_name(&renamed).is_none() {
                        plan.additions
                            .push(Addition::column(&renamed, &f.field_type));
                    }
                    plan.renames.insert(f.name.clone(), renamed);
                } else {
                    plan.additions.extend(nested);
                }
            }
        }
    }
    plan
}

/// Compares a table type with a file type at `path` (`dotted`: a name on
/// it has a dot): `Err` on a conflict, else the struct fields the table
/// lacks pushed to `additions`.
fn compare(
    table: &Type,
    file: &Type,
    path: &str,
    dotted: bool,
    additions: &mut Vec<Addition>,
) -> Result<(), ()> {
    match (table, file) {
        (Type::Primitive(a), Type::Primitive(b)) if a == b => Ok(()),
        (Type::Struct(a), Type::Struct(b)) => {
            for f in b.fields() {
                match a.fields().iter().find(|t| t.name == f.name) {
                    Some(t) => compare(
                        &t.field_type,
                        &f.field_type,
                        &format!("{path}.{}", f.name),
                        dotted || f.name.contains('.'),
                        additions,
                    )?,
                    // Iceberg finds a parent by its dotted path: under a
                    // name with a dot, a new field cannot be placed.
                    None if dotted || f.name.contains('.') => return Err(()),
                    None => additions.push(Addition {
                        parent: Some(path.to_owned()),
                        name: f.name.clone(),
                        ty: (*f.field_type).clone(),
                    }),
                }
            }
            Ok(())
        }
        (Type::List(a), Type::List(b)) => compare(
            &a.element_field.field_type,
            &b.element_field.field_type,
            &format!("{path}.element"),
            dotted,
            additions,
        ),
        (Type::Map(a), Type::Map(b)) => {
            compare(
                &a.key_field.field_type,
                &b.key_field.field_type,
                path,
                dotted,
                &mut Vec::new(),
            )?;
            compare(
                &a.value_field.field_type,
                &b.value_field.field_type,
                &format!("{path}.value"),
                dotted,
                additions,
            )
        }
        _ => Err(()),
    }
}

/// The data file's schema: the table's fields for the file's columns (after
/// renames), in the file's order, with the table's ids, nullability and
/// full nested types (struct fields of other versions included: the file
/// has nulls there).
pub fn file_schema(table: &Schema, file: &Schema, plan: &Plan) -> anyhow::Result<Schema> {
    let fields: Vec<NestedFieldRef> = file
        .as_struct()
        .fields()
        .iter()
        .map(|f| {
            let name = plan.renames.get(&f.name).unwrap_or(&f.name);
            table
                .as_struct()
                .field_by_name(name)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("column {name} is not in the table after evolution"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Schema::builder()
        .with_schema_id(table.schema_id())
        .with_fields(fields)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column_type::ColumnType;
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};
    use iceberg::arrow::arrow_schema_to_schema_auto_assign_ids;
    use std::sync::Arc;

    fn schema(fields: Vec<Field>) -> Schema {
        arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(fields)).unwrap()
    }

    fn item(extra_field: bool) -> ColumnType {
        let mut f = vec![("sku".to_owned(), ColumnType::Str)];
        if extra_field {
            f.push(("qty".to_owned(), ColumnType::Int));
        }
        ColumnType::List(Arc::new(ColumnType::Struct {
            fields: f.into(),
            extra: false,
        }))
    }

    #[test]
    fn new_properties_and_struct_fields_are_added_and_conflicts_get_their_own_column() {
        let table = schema(vec![
            Field::new("message_id", DataType::Utf8, false),
            Field::new("p_total", DataType::Float64, true),
            Field::new("p_items", item(false).arrow(), true),
        ]);
        let file = schema(vec![
            Field::new("message_id", DataType::Utf8, false),
            Field::new("p_total", DataType::Utf8, true),
            Field::new("p_items", item(true).arrow(), true),
            Field::new("p_coupon", DataType::Utf8, true),
        ]);
        let p = plan(&table, &file, Some(7));
        assert_eq!(
            p.renames.get("p_total").map(String::as_str),
            Some("p_total__s7")
        );
        let added: Vec<(Option<&str>, &str)> = p
            .additions
            .iter()
            .map(|a| (a.parent.as_deref(), a.name.as_str()))
            .collect();
        assert_eq!(
            added,
            [
                (None, "p_total__s7"),
                (Some("p_items.element"), "qty"),
                (None, "p_coupon")
            ]
        );
        // The same file against a table that has it all: nothing to do.
        let p = plan(&file, &file, Some(7));
        assert!(!p.changes_schema() && p.renames.is_empty());
    }
}
