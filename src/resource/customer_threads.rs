//! `customer_threads` (class `CustomerThread`, table `customer_thread`),
//! docs/prestashop/resources.md.

use super::{field, AssociationDef, FieldDef, FieldType, ResourceDef};

const UID: Option<&str> = Some("isUnsignedId");

pub static CUSTOMER_THREADS: ResourceDef = ResourceDef {
    name: "customer_threads",
    singular: "customer_thread",
    class_name: "CustomerThread",
    description: "Customer services threads",
    table: "customer_thread",
    fields: &[
        FieldDef {
            name: "id",
            column: "id_customer_thread",
            kind: FieldType::Id,
            validator: None,
            max_size: None,
            required: false,
            xlink: None,
        },
        field(
            "id_lang",
            FieldType::Int,
            UID,
            None,
            true,
            Some("languages"),
        ),
        field("id_shop", FieldType::Int, UID, None, false, Some("shops")),
        field(
            "id_customer",
            FieldType::Int,
            UID,
            None,
            false,
            Some("customers"),
        ),
        field("id_order", FieldType::Int, UID, None, false, Some("orders")),
        field(
            "id_product",
            FieldType::Int,
            UID,
            None,
            false,
            Some("products"),
        ),
        // No xlink on id_contact: CustomerThread declares none (docs/prestashop/resources.md).
        field("id_contact", FieldType::Int, UID, None, true, None),
        field(
            "email",
            FieldType::String,
            Some("isEmail"),
            Some(255),
            false,
            None,
        ),
        // No size in the class; the column is varchar(12) (docs/compatibility.md W14).
        field(
            "token",
            FieldType::String,
            Some("isGenericName"),
            None,
            true,
            None,
        ),
        field("status", FieldType::String, None, None, false, None),
        field(
            "date_add",
            FieldType::Date,
            Some("isDate"),
            None,
            false,
            None,
        ),
        field(
            "date_upd",
            FieldType::Date,
            Some("isDate"),
            None,
            false,
            None,
        ),
    ],
    validation_order: &[
        "id_lang",
        "id_contact",
        "id_shop",
        "id_customer",
        "id_order",
        "id_product",
        "email",
        "token",
        "status",
        "date_add",
        "date_upd",
    ],
    associations: &[AssociationDef {
        name: "customer_messages",
        node_type: "customer_message",
        table: "customer_message",
        id_column: "id_customer_message",
        parent_column: "id_customer_thread",
    }],
};
