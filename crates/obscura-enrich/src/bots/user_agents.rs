//! User-Agents that name a robot: the patterns of two public lists, fetched as data by
//! `scripts/fetch-data` — `crawler-user-agents` (MIT; case-sensitive patterns) and `isbot`
//! (Unlicense; case-insensitive) — compiled into one matcher, with a bounded cache of recent
//! answers because a server sees the same few hundred User-Agents again and again.
//!
//! Rust's `regex` has no look-around; the few `isbot` patterns that use it are rewritten here
//! into equivalent look-around-free forms ([`REWRITES`]). The whole matcher works on bytes with
//! ASCII classes, as the lists' own JavaScript does (`\w`, `\d` and `\b` are ASCII there).

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;

/// `isbot` patterns that use look-around, each with a look-around-free equivalent: a negative
/// look-behind `(?<!xyz)P` becomes "start of text, or a preceding character that breaks
/// `xyz`", a negative look-ahead `P(?!xyz)` becomes "end of text, or a following character
/// that breaks `xyz`". Equivalent for telling whether a User-Agent matches.
const REWRITES: [(&str, &str); 7] = [
    (
        r"(?:^|[^g])news(?!sapphire)",
        r"(?:^|[^g])news(?:$|[^s]|s(?:$|[^a]|a(?:$|[^p]|p(?:$|[^p]|p(?:$|[^h]|h(?:$|[^i]|i(?:$|[^r]|r(?:$|[^e]))))))))",
    ),
    (
        r"(?<! channel/|google/)google(?!(?:wv|app|/google| pixel))",
        concat!(
            r"(?:^|[^/]|(?:^|[^le])/|(?:^|[^e])l/|(?:^|[^n])el/|(?:^|[^n])nel/|(?:^|[^a])nnel/|(?:^|[^h])annel/",
            r"|(?:^|[^c])hannel/|(?:^|[^ ])channel/|(?:^|[^l])e/|(?:^|[^g])le/|(?:^|[^o])gle/|(?:^|[^o])ogle/",
            r"|(?:^|[^g])oogle/)google(?:$|[^wa/ ]|w(?:$|[^v])|a(?:$|[^p]|p(?:$|[^p]))",
            r"|/(?:$|[^g]|g(?:$|[^o]|o(?:$|[^o]|o(?:$|[^g]|g(?:$|[^l]|l(?:$|[^e]))))))",
            r"| (?:$|[^p]|p(?:$|[^i]|i(?:$|[^x]|x(?:$|[^e]|e(?:$|[^l]))))))"
        ),
    ),
    (r"(?<! cu)bots?(?:\b|_)", r"(?:^|[^u]|(?:^|[^c])u|(?:^|[^ ])cu)bots?(?:\b|_)"),
    (r"(?<!cam)scan", r"(?:^|[^m]|(?:^|[^a])m|(?:^|[^c])am)scan"),
    (r"(?<!lib)http", r"(?:^|[^b]|(?:^|[^i])b|(?:^|[^l])ib)http"),
    (r"java(?!;)", r"java(?:$|[^;])"),
    (
        r"^mozilla/\d\.\d\s\((?:compatible;)?(?:\s?[\w\d-.]+[\s/]\d+\.\d+)?\)$",
        r"^mozilla/\d\.\d\s\((?:compatible;)?(?:\s?[\w.\-]+[\s/]\d+\.\d+)?\)$",
    ),
];

/// How many User-Agents' answers are remembered.
const CACHE: usize = 4096;

/// The compiled lists.
pub struct RobotNames {
    matcher: Option<regex::bytes::Regex>,
    patterns: usize,
    cache: Mutex<lru::LruCache<String, bool>>,
}

impl std::fmt::Debug for RobotNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobotNames").field("patterns", &self.patterns).finish()
    }
}

/// One pattern as the combined matcher takes it: alone it must compile (a pattern a future
/// list adds that Rust cannot read is left out with a warning rather than failing the start).
fn usable(pattern: &str, case_insensitive: bool) -> Option<String> {
    let pattern = REWRITES.iter().find(|(from, _)| *from == pattern).map_or(pattern, |(_, to)| *to);
    let wrapped = if case_insensitive { format!("(?i:{pattern})") } else { format!("(?:{pattern})") };
    match regex::bytes::RegexBuilder::new(&format!("(?-u){wrapped}")).size_limit(1 << 20).build() {
        Ok(_) => Some(wrapped),
        Err(e) => {
            tracing::warn!("a robot User-Agent pattern cannot be used and is left out: {pattern}: {e}");
            None
        }
    }
}

impl RobotNames {
    /// No lists: nothing matches.
    pub fn empty() -> Self {
        RobotNames { matcher: None, patterns: 0, cache: Mutex::new(lru::LruCache::new(NonZeroUsize::MIN)) }
    }

    /// The matcher of `case_sensitive` patterns (crawler-user-agents) and `case_insensitive`
    /// ones (isbot).
    pub fn new(case_sensitive: &[String], case_insensitive: &[String]) -> anyhow::Result<Self> {
        let parts: Vec<String> = case_sensitive
            .iter()
            .filter_map(|p| usable(p, false))
            .chain(case_insensitive.iter().filter_map(|p| usable(p, true)))
            .collect();
        let patterns = parts.len();
        let matcher = if parts.is_empty() {
            None
        } else {
            let combined = format!("(?-u){}", parts.join("|"));
            let built = regex::bytes::RegexBuilder::new(&combined)
                .size_limit(256 << 20)
                .dfa_size_limit(64 << 20)
                .build()
                .context("the robot User-Agent lists do not compile together")?;
            Some(built)
        };
        let cache = Mutex::new(lru::LruCache::new(NonZeroUsize::new(CACHE).expect("not zero")));
        Ok(RobotNames { matcher, patterns, cache })
    }

    /// Reads the lists' files: `crawler-user-agents.json` (an array of `{"pattern": …}`) and
    /// `isbot-patterns.json` (an array of pattern strings). A list not given, or whose file is
    /// missing, is empty.
    pub fn open(crawler_user_agents: Option<&Path>, isbot: Option<&Path>) -> anyhow::Result<Self> {
        #[derive(serde::Deserialize)]
        struct Entry {
            pattern: String,
        }
        let read = |path: Option<&Path>| -> anyhow::Result<Option<(Vec<u8>, String)>> {
            let Some(path) = path else { return Ok(None) };
            match std::fs::read(path).map(|bytes| (bytes, path.display().to_string())) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        };
        let crawlers: Vec<String> = match read(crawler_user_agents)? {
            Some((bytes, name)) => serde_json::from_slice::<Vec<Entry>>(&bytes)
                .with_context(|| format!("{name} is not the crawler-user-agents list"))?
                .into_iter()
                .map(|e| e.pattern)
                .collect(),
            None => Vec::new(),
        };
        let isbot: Vec<String> = match read(isbot)? {
            Some((bytes, name)) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{name} is not a JSON array of isbot patterns"))?,
            None => Vec::new(),
        };
        Self::new(&crawlers, &isbot)
    }

    /// How many patterns the matcher holds.
    pub fn patterns(&self) -> usize {
        self.patterns
    }

    /// Whether `user_agent` matches a pattern of either list.
    pub fn matches(&self, user_agent: &str) -> bool {
        let Some(matcher) = &self.matcher else { return false };
        // Long strings are not worth remembering (nor is anyone's browser that long).
        if user_agent.len() > 512 {
            return matcher.is_match(user_agent.as_bytes());
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&known) = cache.get(user_agent) {
            return known;
        }
        drop(cache);
        let found = matcher.is_match(user_agent.as_bytes());
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).put(user_agent.to_owned(), found);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isbot_like() -> RobotNames {
        let isbot: Vec<String> = REWRITES.iter().map(|(from, _)| (*from).to_owned()).collect();
        RobotNames::new(&["Googlebot\\/".to_owned(), "AhrefsBot".to_owned()], &isbot).unwrap()
    }

    #[test]
    fn bots_user_agent_look_around_patterns_are_rewritten_and_keep_their_meaning() {
        let names = isbot_like();
        assert_eq!(names.patterns(), 9, "every rewritten pattern compiles");
        for robot in [
            "Mozilla/5.0 (compatible; Googlebot/2.1)",
            "python-httpx/0.27",
            "newsbot",
            "Java/17.0.1",
            "Mozilla/5.0 (compatible; Seekport Crawler; http://seekport.com/",
            "mozilla/5.0 (compatible; foo/1.0)",
            "masscan/1.3",
            "AhrefsBot/7.0",
            "Feedly news fetcher",
            "google favicon",
        ] {
            assert!(names.matches(robot), "{robot}");
        }
        for person in [
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148 Safari/604.1",
            "newssapphire",
            "Mozilla/5.0 (Linux; Android 12; CUBOT X30)",
            "camscanner",
            "libhttp",
            "java; x",
            "Mozilla/5.0 channel/google",
            "GoogleApp",
            "Mozilla/5.0 google pixel 8",
        ] {
            assert!(!names.matches(person), "{person}");
        }
        assert!(names.matches("JAVA/1.8"), "isbot patterns ignore case");
    }

    #[test]
    fn bots_user_agent_lists_skip_what_cannot_compile_and_cache_answers() {
        let names = RobotNames::new(&["(?<=x)y".to_owned(), "Slurp".to_owned()], &[]).unwrap();
        assert_eq!(names.patterns(), 1, "an unknown look-behind is left out");
        assert!(!names.matches("slurp"), "crawler-user-agents patterns are case-sensitive");
        assert!(names.matches("Yahoo! Slurp") && names.matches("Yahoo! Slurp"));
        assert!(!names.matches(&"x".repeat(10_000)), "long input is answered, not remembered");
        assert!(!RobotNames::empty().matches("Googlebot/2.1"));
        // Non-ASCII bytes are not word characters here, as in the lists' JavaScript.
        let ascii = RobotNames::new(&[], &[r"bot\b".to_owned()]).unwrap();
        assert!(ascii.matches("robotä") && !ascii.matches("robots"));
    }

    #[test]
    fn bots_user_agent_lists_read_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let crawlers = dir.path().join("crawler-user-agents.json");
        let isbot = dir.path().join("isbot-patterns.json");
        std::fs::write(&crawlers, r#"[{"pattern":"Baiduspider","instances":[]}]"#).unwrap();
        std::fs::write(&isbot, r#"["headless"]"#).unwrap();
        let names = RobotNames::open(Some(&crawlers), Some(&isbot)).unwrap();
        assert!(names.matches("Baiduspider-render/2.0") && names.matches("Mozilla/5.0 HeadlessChrome/131.0"));
        assert_eq!(RobotNames::open(Some(&dir.path().join("none")), None).unwrap().patterns(), 0);
        std::fs::write(&isbot, "{").unwrap();
        assert!(RobotNames::open(Some(&crawlers), Some(&isbot)).unwrap_err().to_string().contains("isbot"));
    }
}
