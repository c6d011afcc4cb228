//! Character rules shared by every parser of user text.

/// Characters that render as nothing or reorder text (Unicode default-ignorables and bidi
/// controls): in names and addresses they only serve to make two different values look alike.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Control characters and invisible ones alike.
pub fn is_unprintable(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_width_bidi_and_soft_hyphen_are_invisible_letters_are_not() {
        for c in [
            '\u{200B}',
            '\u{202E}',
            '\u{00AD}',
            '\u{FEFF}',
            '\u{2066}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "{:04X}", c as u32);
        }
        for c in ['a', 'é', 'ß', 'Ж', '中', ' ', '-'] {
            assert!(!is_invisible(c), "{c}");
        }
        assert!(is_unprintable('\u{0007}'));
    }
}
