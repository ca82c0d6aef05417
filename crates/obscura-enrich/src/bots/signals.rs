//! The tracker's browser signals: yes/no answers the page computes about its own browser and
//! sends as one small number (a bit field). Each answer is shared by millions of browsers or by
//! automation only — never a fingerprint hash or a value that tells one device from another
//! (P4): "the WebGL renderer is a software rasterizer", not the renderer's name.

/// One answer of the tracker, by its bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Signal {
    /// `navigator.webdriver` is true: the browser is driven by WebDriver or DevTools automation.
    Webdriver = 0,
    /// The browser calls itself headless (`HeadlessChrome` in its User-Agent or app version).
    HeadlessMarker = 1,
    /// `navigator.languages` is empty.
    NoLanguages = 2,
    /// The screen is 0 × 0.
    ZeroScreen = 3,
    /// Globals that automation tools leave behind (PhantomJS, Nightmare, Selenium, Playwright,
    /// ChromeDriver's `cdc_` properties).
    AutomationGlobals = 4,
    /// WebGL renders in Chromium's software rasterizer (SwiftShader), as in headless and cloud
    /// browsers; a person's Chrome without a GPU offers no WebGL at all. (Mesa's llvmpipe is left
    /// out: people run Linux desktops in virtual machines.)
    SoftwareRenderer = 5,
    /// Canvas or Web Audio is missing or stubbed (answers nothing a real browser would).
    ApisMissing = 6,
}

impl Signal {
    /// Every signal, in bit order.
    pub const ALL: [Signal; 7] = [
        Signal::Webdriver,
        Signal::HeadlessMarker,
        Signal::NoLanguages,
        Signal::ZeroScreen,
        Signal::AutomationGlobals,
        Signal::SoftwareRenderer,
        Signal::ApisMissing,
    ];

    /// Its bit in the tracker's number.
    pub fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// The answers the tracker sent; bits it does not know are ignored (a newer tracker may send
/// more).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrowserSignals(u32);

impl BrowserSignals {
    /// From the tracker's number.
    pub fn from_bits(bits: u32) -> Self {
        let known = Signal::ALL.iter().fold(0, |all, s| all | s.bit());
        BrowserSignals(bits & known)
    }

    /// Whether the tracker said yes to `signal`.
    pub fn has(self, signal: Signal) -> bool {
        self.0 & signal.bit() != 0
    }

    /// The signals it said yes to.
    pub fn present(self) -> impl Iterator<Item = Signal> {
        Signal::ALL.into_iter().filter(move |s| self.has(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_browser_signals_read_known_bits_only() {
        let s = BrowserSignals::from_bits(Signal::Webdriver.bit() | Signal::SoftwareRenderer.bit() | 1 << 20);
        assert!(s.has(Signal::Webdriver) && s.has(Signal::SoftwareRenderer) && !s.has(Signal::ZeroScreen));
        assert_eq!(s.present().collect::<Vec<_>>(), [Signal::Webdriver, Signal::SoftwareRenderer]);
        assert_eq!(BrowserSignals::from_bits(u32::MAX).present().count(), Signal::ALL.len());
        assert_eq!(BrowserSignals::from_bits(0), BrowserSignals::default());
    }
}
