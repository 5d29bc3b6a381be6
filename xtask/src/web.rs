//! What `build_web` does to Trunk's output before the binary embeds it.
//!
//! wasm-bindgen keeps the `name` custom section (every function's name: about 400 KB raw,
//! ~90 KiB gzipped of the page) and Debian's wasm-opt (binaryen 108) cannot parse this wasm to
//! drop it. The browser needs no custom section, so `finish_dist` drops them all from each
//! `dist/*.wasm`, then recomputes every Subresource Integrity hash Trunk wrote into
//! `dist/index.html` (the wasm's preload link carries one; a stale hash makes the browser
//! refuse the file).

use base64::Engine as _;
use sha2::{Digest, Sha384};
use std::path::Path;

use crate::Result;

const MAGIC: &[u8] = b"\0asm\x01\0\0\0";

/// One section of a wasm module: its id, its custom name (id 0 only) and its whole bytes.
struct Section<'a> {
    id: u8,
    name: Option<&'a str>,
    bytes: &'a [u8],
}

fn leb128(data: &[u8], pos: &mut usize) -> Result<usize> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *data.get(*pos).ok_or("wasm: truncated LEB128")?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return usize::try_from(value).map_err(|_| "wasm: LEB128 too large".to_string());
        }
    }
    Err("wasm: LEB128 longer than 5 bytes".into())
}

fn sections(wasm: &[u8]) -> Result<Vec<Section<'_>>> {
    if !wasm.starts_with(MAGIC) {
        return Err("not a wasm module (version 1)".into());
    }
    let mut out = Vec::new();
    let mut pos = MAGIC.len();
    while pos < wasm.len() {
        let start = pos;
        let id = wasm[pos];
        pos += 1;
        let size = leb128(wasm, &mut pos)?;
        let end = pos.checked_add(size).filter(|&e| e <= wasm.len()).ok_or("wasm: section runs past the end")?;
        let name = if id == 0 {
            let mut p = pos;
            let len = leb128(wasm, &mut p)?;
            let bytes = wasm.get(p..p + len).filter(|_| p + len <= end).ok_or("wasm: custom section name runs past it")?;
            Some(std::str::from_utf8(bytes).map_err(|_| "wasm: custom section name is not UTF-8")?)
        } else {
            None
        };
        out.push(Section { id, name, bytes: &wasm[start..end] });
        pos = end;
    }
    Ok(out)
}

/// The names of the module's custom sections, in order.
pub fn custom_sections(wasm: &[u8]) -> Result<Vec<String>> {
    Ok(sections(wasm)?.into_iter().filter_map(|s| s.name.map(str::to_string)).collect())
}

/// The module without its custom sections (`name`, `producers`, `target_features`, debug
/// info): none of them is read when a browser instantiates it.
pub fn strip_custom_sections(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    for s in sections(wasm)? {
        if s.id != 0 {
            out.extend_from_slice(s.bytes);
        }
    }
    Ok(out)
}

/// A Subresource Integrity value: `sha384-` and the base64 of the digest.
pub fn sri(bytes: &[u8]) -> String {
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes)))
}

/// `html` with every `integrity="…"` recomputed from the file its tag's `href` or `src` names
/// (`read` gets a file by that path, e.g. `/x_bg.wasm`); an error for a tag that names none.
pub fn fix_integrity(html: &str, read: impl Fn(&str) -> Result<Vec<u8>>) -> Result<String> {
    const ATTR: &str = "integrity=\"";
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(ATTR) {
        let before = &rest[..at];
        let tag_start = before.rfind('<').ok_or("index.html: integrity outside a tag")?;
        let value_start = at + ATTR.len();
        let value_len = rest[value_start..].find('"').ok_or("index.html: unterminated integrity")?;
        let tag_end = rest[at..].find('>').map(|e| at + e).ok_or("index.html: unterminated tag")?;
        let tag = &rest[tag_start..tag_end];
        let url = ["href=\"", "src=\""]
            .iter()
            .find_map(|a| tag.find(a).map(|i| &tag[i + a.len()..]))
            .and_then(|v| v.split('"').next())
            .ok_or_else(|| format!("index.html: a tag with an integrity names no file: {tag}"))?;
        out.push_str(&rest[..value_start]);
        out.push_str(&sri(&read(url)?));
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Strips each `dist/*.wasm` and brings `dist/index.html`'s integrity hashes up to date.
/// Returns the wasm's bytes before and after.
pub fn finish_dist(dist: &Path) -> Result<(u64, u64)> {
    let (mut before, mut after) = (0, 0);
    let entries = std::fs::read_dir(dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_some_and(|x| x == "wasm") {
            let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let stripped = strip_custom_sections(&wasm).map_err(|e| format!("{}: {e}", path.display()))?;
            let left = custom_sections(&stripped)?;
            if !left.is_empty() {
                return Err(format!("{}: custom sections {left:?} left after stripping", path.display()));
            }
            before += wasm.len() as u64;
            after += stripped.len() as u64;
            std::fs::write(&path, &stripped).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let index = dist.join("index.html");
    let html = std::fs::read_to_string(&index).map_err(|e| format!("{}: {e}", index.display()))?;
    let fixed = fix_integrity(&html, |url| {
        let rel = url.trim_start_matches('/');
        if rel.is_empty() || rel.contains("..") || rel.contains("://") {
            return Err(format!("index.html: an integrity for {url:?}, which is not a file of dist/"));
        }
        std::fs::read(dist.join(rel)).map_err(|e| format!("index.html names {url}: {e}"))
    })?;
    std::fs::write(&index, fixed).map_err(|e| format!("{}: {e}", index.display()))?;
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// magic, a type section, a custom `name` section, a custom `producers` section.
    fn module() -> Vec<u8> {
        let mut m = MAGIC.to_vec();
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut name = vec![4];
        name.extend_from_slice(b"name");
        name.extend_from_slice(&[0u8; 200]);
        m.push(0);
        m.extend_from_slice(&[0xcd, 0x01]); // 205 in LEB128
        m.extend_from_slice(&name);
        m.extend_from_slice(&[0, 10, 9]);
        m.extend_from_slice(b"producers");
        m
    }

    #[test]
    fn strips_every_custom_section_and_keeps_the_rest() {
        let m = module();
        assert_eq!(custom_sections(&m).unwrap(), ["name", "producers"]);
        let s = strip_custom_sections(&m).unwrap();
        assert_eq!(s, [MAGIC, &[1, 4, 1, 0x60, 0, 0]].concat());
        assert!(custom_sections(&s).unwrap().is_empty());
        assert!(strip_custom_sections(&m[..m.len() - 1]).is_err(), "a truncated section is an error");
        assert!(strip_custom_sections(b"\0asm\x02\0\0\0").is_err());
    }

    #[test]
    fn integrity_follows_the_file_it_names() {
        let html = r#"<link rel="stylesheet" href="/a.css" integrity="sha384-old"/><link rel="preload" href="/b_bg.wasm" crossorigin="anonymous" integrity="sha384-stale" as="fetch">"#;
        let fixed = fix_integrity(html, |url| Ok(url.as_bytes().to_vec())).unwrap();
        let want = format!(
            r#"<link rel="stylesheet" href="/a.css" integrity="{}"/><link rel="preload" href="/b_bg.wasm" crossorigin="anonymous" integrity="{}" as="fetch">"#,
            sri(b"/a.css"),
            sri(b"/b_bg.wasm")
        );
        assert_eq!(fixed, want);
        // Known value: sha384 of the empty string.
        assert_eq!(sri(b""), "sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb");
        assert!(fix_integrity(r#"<script integrity="x">"#, |_| Ok(vec![])).is_err());
    }
}
