//! `customer_messages` (class `CustomerMessage`, table `customer_message`), spec §5.1.

use super::{FieldDef, FieldType, ResourceDef};

const fn field(
    name: &'static str,
    kind: FieldType,
    validator: Option<&'static str>,
    max_size: Option<u32>,
    required: bool,
    xlink: Option<&'static str>,
) -> FieldDef {
    FieldDef {
        name,
        column: name,
        kind,
        validator,
        max_size,
        required,
        xlink,
    }
}

pub static CUSTOMER_MESSAGES: ResourceDef = ResourceDef {
    name: "customer_messages",
    singular: "customer_message",
    class_name: "CustomerMessage",
    description: "Customer services messages",
    table: "customer_message",
    fields: &[
        FieldDef {
            name: "id",
            column: "id_customer_message",
            kind: FieldType::Id,
            validator: None,
            max_size: None,
            required: false,
            xlink: None,
        },
        field(
            "id_employee",
            FieldType::Int,
            Some("isUnsignedId"),
            None,
            false,
            Some("employees"),
        ),
        // No validator on id_customer_thread (spec §5.1, §11.3).
        field(
            "id_customer_thread",
            FieldType::Int,
            None,
            None,
            false,
            Some("customer_threads"),
        ),
        field(
            "ip_address",
            FieldType::String,
            Some("isIp2Long"),
            Some(15),
            false,
            None,
        ),
        field(
            "message",
            FieldType::Html,
            Some("isCleanHtml"),
            Some(4_194_303),
            true,
            None,
        ),
        field("file_name", FieldType::String, None, None, false, None),
        field("user_agent", FieldType::String, None, None, false, None),
        field(
            "private",
            FieldType::Bool,
            Some("isBool"),
            None,
            false,
            None,
        ),
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
        field("read", FieldType::Bool, Some("isBool"), None, false, None),
    ],
    validation_order: &[
        "id_employee",
        "id_customer_thread",
        "ip_address",
        "message",
        "file_name",
        "user_agent",
        "private",
        "date_add",
        "date_upd",
        "read",
    ],
    associations: &[],
};
