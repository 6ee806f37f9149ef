//! # prompt-manager-template
//!
//! The [`TemplateEngine`](prompt_manager_core::TemplateEngine) of prompt-manager, on
//! [minijinja](https://docs.rs/minijinja) (Jinja syntax: `{{ name }}`, filters, loops,
//! conditionals, `{% include "shared/tone@production" %}`).
//!
//! - Templates compile once per prompt version and are rendered many times from any thread.
//! - An undefined variable is an error naming *every* variable the template reads and did not get.
//! - Syntax errors carry the line and column.
//! - Fuel, recursion and output-size limits ([`RenderLimits`]) stop a runaway template with an
//!   error instead of a hang.
//! - Values are data: a variable holding `{{ … }}` is printed as it is, never interpreted.
//! - No HTML escaping: prompts are plain text.
//!
//! With feature `handlebars`, [`HandlebarsEngine`] reads Handlebars templates
//! (`syntax: handlebars`) with Dotprompt's helpers, under the same guarantees.
//!
//! ```
//! use prompt_manager_core::{CompileUnit, TemplateEngine, Variables};
//! use prompt_manager_template::MiniJinjaEngine;
//!
//! let engine = MiniJinjaEngine::new();
//! let unit = CompileUnit { name: "greeting@1.0.0", sources: &["Hello {{ name }}!"], part_names: &[], includes: &[], messages: false };
//! let compiled = engine.compile(unit)?;
//! let mut out = String::new();
//! compiled.render(&Variables::new().with("name", "{{ Ada }}"), &mut |_, text| out = text)?;
//! assert_eq!(out, "Hello {{ Ada }}!");
//! # Ok::<(), prompt_manager_core::Error>(())
//! ```

mod check;
mod compiled;
mod context;
mod engine;
mod errors;
#[cfg(feature = "handlebars")]
mod handlebars;
mod jinja2;
mod pyformat;
mod python;
mod scan;

pub use engine::{MiniJinjaEngine, RenderLimits};
#[cfg(feature = "handlebars")]
pub use handlebars::HandlebarsEngine;
pub use scan::find_includes;
