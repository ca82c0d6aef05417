#!/usr/bin/env python3
"""Writes the labeled test corpus for the PII scrubber as JSON Lines (run via scripts/pii-corpus).

Each line is one object:

    {"id": "<type>-<locale>-<n>", "kind": "pii" | "technical", "type": "...",
     "locale": "en_US" | ... | "-", "field": "text" | "url", "text": "...", "secrets": [...]}

kind "pii": `text` holds personal data or credentials; none of `secrets` may appear anywhere
in the scrubbed output. Secrets are given in plain, decoded form: for field "url" the text is a
path or path+query as a browser sends it (percent-encoded, "+" for spaces in form queries,
sometimes double-encoded such as %2540 inside a nested redirect URL), and a full-width phone
number is listed both as written and in ASCII digits; a password in a URL's user-info is
percent-encoded where URLs require it, in field "text" too. So compare secrets with the
scrubbed output and with its percent-decoded and NFKC-normalised forms. A scrubber that replaces
the whole value passes; one that leaves it in place fails. Every secret is at least 4 characters
long and occurs nowhere in the text except inside the personal value itself.

kind "technical": strings without personal data (stack traces, versions, hashes, timestamps,
SQL, paths, prices, UI labels, ...) that must come out of the scrubber unchanged; secrets [].
Among them are long numbers that are not personal: epoch timestamps, order and invoice numbers
with a year, memory addresses, request, trace and build ids, counters and byte sizes, and names
with digits from the network-operator and device databases ("5GNET INTERNET", "SM-A515F"). Field
"user_agent_label" marks a device model as a User-Agent parser returns it, to be scrubbed as such.

Every text is a single line of at most 450 characters without control characters. The output
is deterministic: Faker and the local random generator are both seeded with 2026.
"""

import argparse
import base64
import ipaddress
import json
import os
import string
import sys
import unicodedata
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import random

from faker import Faker

SEED = 2026
LOCALES = ["en_US", "zh_CN", "de_DE", "fr_FR", "en_GB"]
PER_LOCALE = 80          # PII samples per type and locale ("-" counts as one locale)
TECHNICAL_TOTAL = 2770   # technical samples, spread evenly over their shapes
MAX_LEN = 450

Faker.seed(SEED)
R = random.Random(SEED)
FAKE = {loc: Faker(loc) for loc in LOCALES}
EN = FAKE["en_US"]

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"


class Retry(Exception):
    """The drawn values do not make a usable sample; draw again."""


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def pick(seq):
    return seq[R.randrange(len(seq))]


def rand_str(alphabet, n):
    return "".join(alphabet[R.randrange(len(alphabet))] for _ in range(n))


def rand_hex(n):
    return rand_str(HEX, n)


def luhn_digit(payload):
    """Check digit that makes payload + digit pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number):
    digits = [c for c in number if c.isdigit()]
    return len(digits) > 1 and luhn_digit("".join(digits[:-1])) == digits[-1]


def iban_ok(iban):
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def cn_id_ok(idn):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(idn[:17], weights)) % 11]
    return len(idn) == 18 and idn[:17].isdigit() and idn[17] == check


def fullwidth(s):
    """ASCII digits and '+', '-', '(', ')' and space as their full-width forms."""
    table = {c: chr(ord(c) + 0xFEE0) for c in "0123456789+-()"}
    table[" "] = "\u3000"
    return "".join(table.get(c, c) for c in s)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def lang(loc):
    return loc.split("_")[0]


def user_name(loc, min_len=4):
    """A Faker user name of at least min_len characters, ASCII letters, digits, '.', '_', '-'."""
    for _ in range(50):
        u = FAKE[loc].user_name()
        if len(u) >= min_len and all(c in ALNUM + "._-" for c in u):
            return u
    raise Retry


# URL encodings, as a browser produces them.
def enc_path(v):
    """A path segment typed or linked: space as %20, '@', ':' and '+' left alone."""
    return quote(v, safe="@:+!$'()*,;=~")


def enc_form(v):
    """A query value from a submitted form: space as '+', '@' as %40, '+' as %2B."""
    return quote_plus(v, safe="")


def enc_typed(v):
    """A query value typed into the address bar: space as %20, '@', ':', '/' and '+' kept."""
    return quote(v, safe="@:/+!$'()*,;~")


def enc_double(v):
    """A form-encoded value inside a URL that is itself a query value (%40 becomes %2540)."""
    return quote(enc_form(v), safe="")


def decodings(text):
    """The forms in which a consumer should look for secrets."""
    forms = {text}
    once = unquote(text)
    for s in (once, unquote_plus(text), unquote(once), unquote_plus(once)):
        forms.add(s)
    for s in list(forms):
        forms.add(unicodedata.normalize("NFKC", s))
    return forms


def has_control(text):
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


def tpl_for(loc, tpls):
    """A template in the locale's language half of the time (where one exists), else English."""
    own = tpls.get(lang(loc))
    if own and lang(loc) != "en" and R.random() < 0.5:
        return pick(own)
    return pick(tpls["en"])


def fill(tpl, **vals):
    for k, v in vals.items():
        tpl = tpl.replace("{" + k + "}", v)
    return tpl


def standard(loc, field, value, secrets, text_tpls, url_tpls):
    """One value put into a free-text or URL template; the span is the value as written."""
    if field == "text":
        written = value
        text = fill(tpl_for(loc, text_tpls), v=written)
    else:
        tpl, enc = pick(url_tpls)
        written = enc(value)
        text = fill(tpl, v=written)
    return text, secrets, [written]


# ---------------------------------------------------------------------------------------------
# PII generators: each returns (text, secrets, spans); spans are the written forms of the
# personal values, used to check that no secret also occurs elsewhere in the text.
# ---------------------------------------------------------------------------------------------

EMAIL_TEXT = {
    "en": ["Contact me at {v}", "user {v} signed up", "Email: {v}", "Reply-To: <{v}>",
           "newsletter_signup: {v}", "Please send the invoice to {v} thanks",
           "ERROR: duplicate key value violates unique constraint \"users_email_key\" "
           "DETAIL: Key (email)=({v}) already exists.",
           "password reset requested for {v}", "{v}", "Hi, it's me ({v}), my order never arrived",
           "mailto:{v}", "From: \"Support\" <{v}>", "invalid recipient {v}: mailbox unavailable"],
    "zh": ["请发邮件到{v}联系我", "我的邮箱是 {v}", "邮箱：{v}", "用户{v}注册成功", "发票请寄到 {v}，谢谢"],
    "de": ["Bitte an {v} schreiben", "Meine E-Mail-Adresse lautet {v}", "Rückfragen gerne an {v}"],
    "fr": ["Écrivez-moi à {v}", "Mon adresse e-mail : {v}", "Merci de répondre à {v}"],
}
EMAIL_URL = [("/users/{v}/orders", enc_path), ("/search?q={v}", enc_form),
             ("/?email={v}", enc_form), ("/unsubscribe?email={v}&list=weekly", enc_typed),
             ("/login?next=%2Faccount%3Femail%3D{v}", enc_double),
             ("/newsletter/confirm?e={v}&utm_source=mail", enc_form),
             ("/api/v1/customers/{v}", enc_path)]


def gen_email(loc, field):
    f = FAKE[loc]
    r = R.random()
    if r < 0.45:
        email = f.email()
    elif r < 0.75:
        email = f.free_email()
    elif r < 0.88:
        local, dom = f.free_email().split("@")
        email = f"{local}+{pick(['news', 'shop', 'spam', '2026', 'amazon', 'work', 'promo'])}@{dom}"
    else:
        sub = pick(["mail", "eng", "corp", "students", "mx", "staff"])
        email = f"{user_name(loc)}@{sub}.{f.domain_name()}"
    secrets = [email]
    local = email.split("@")[0].split("+")[0]
    if len(local) >= 4:
        secrets.append(local)
    return standard(loc, field, email, secrets, EMAIL_TEXT, EMAIL_URL)


PHONE_TEXT = {
    "en": ["Call me at {v}", "phone: {v}", "Please call {v} after 6pm",
           "Customer phone number {v} is invalid", "tel={v}", "SMS to {v} failed: carrier rejected",
           "contact {v} for delivery", "mobile {v} verified"],
    "zh": ["请联系我 {v}", "我的手机号是{v}，谢谢", "联系电话：{v}", "客服请回电 {v}", "收货人电话{v}"],
    "de": ["Rückruf bitte unter {v}", "Telefon: {v}", "Erreichbar unter {v} ab 18 Uhr"],
    "fr": ["Appelez-moi au {v}", "Tél. : {v}", "Joignable au {v} après 18h"],
}
PHONE_URL = [("/contact?phone={v}", enc_form), ("/search?q={v}", enc_form),
             ("/users/{v}/profile", enc_path), ("/callback?tel={v}&lang=en", enc_typed),
             ("/sms/verify?mobile={v}", enc_form)]


def gen_phone(loc, field):
    f = FAKE[loc]
    secrets = None
    if loc == "zh_CN":
        base = f.phone_number()
        a, b, c = base[:3], base[3:7], base[7:]
        r = R.random()
        if r < 0.2:
            num = fullwidth(pick([base, f"+86 {base}", f"{a} {b} {c}"]))
            secrets = [num, unicodedata.normalize("NFKC", num)]
        else:
            num = pick([base, base, f"+86 {base}", f"+86-{base}", f"+86 {a} {b} {c}",
                        f"{a}-{b}-{c}", f"{a} {b} {c}", f"(+86) {base}", f"+86{base}"])
    else:
        num = f.phone_number()
        digits = "".join(ch for ch in num if ch.isdigit())
        national = digits[2:] if num.startswith("+") else digits
        # de_DE's "0##########" and "+49(0) #########" formats can put a second 0 after the
        # trunk prefix ("00008063608", "+49(0) 092410804"); no real number is written so.
        if national.startswith("00"):
            raise Retry
    if secrets is None:
        secrets = [num]
    return standard(loc, field, num, secrets, PHONE_TEXT, PHONE_URL)


CARD_TEXT = {
    "en": ["card {v} declined", "Payment failed for card number {v}", "cc_number={v}",
           "\"card\": \"{v}\", \"exp\": \"09/28\"", "charge to {v} refused: insufficient funds",
           "my card is {v} please refund", "PAN {v} flagged by fraud check"],
    "zh": ["银行卡号 {v} 支付失败", "卡号：{v}", "请退款到卡 {v}"],
    "de": ["Kartennummer {v} abgelehnt", "Zahlung mit Karte {v} fehlgeschlagen"],
    "fr": ["numéro de carte {v} refusé", "Paiement refusé pour la carte {v}"],
}
CARD_URL = [("/checkout?card={v}", enc_form), ("/pay?cc={v}&amount=49.99", enc_typed),
            ("/billing/cards/{v}", enc_path), ("/search?q={v}", enc_form)]


def gen_card(loc, field):
    num = FAKE[loc].credit_card_number()
    if not luhn_ok(num):
        raise Retry
    r = R.random()
    sep = pick([" ", "-"])
    if len(num) == 16 and r < 0.45:
        num = sep.join(num[i:i + 4] for i in range(0, 16, 4))
    elif len(num) == 15 and r < 0.45:
        num = sep.join([num[:4], num[4:10], num[10:]])
    return standard(loc, field, num, [num], CARD_TEXT, CARD_URL)


IBAN_TEXT = {
    "en": ["IBAN: {v}", "Please transfer the deposit to {v}", "SEPA mandate for {v} rejected",
           "refund to account {v}", "\"iban\": \"{v}\""],
    "de": ["Bitte überweisen Sie auf {v}", "IBAN {v} ist ungültig", "Kontoverbindung: {v}"],
    "fr": ["RIB / IBAN : {v}", "Virement vers {v} refusé", "Mon IBAN est {v}"],
}
IBAN_URL = [("/payments/new?iban={v}", enc_form), ("/accounts/{v}/statements", enc_path),
            ("/sepa?iban={v}&mandate=1", enc_typed)]


def gen_iban(loc, field):
    v = FAKE[loc].iban()
    if not iban_ok(v):
        raise Retry
    if R.random() < 0.4:
        v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
    return standard(loc, field, v, [v], IBAN_TEXT, IBAN_URL)


SSN_TEXT = {"en": ["SSN: {v}", "social security number {v}", "ssn={v}",
                   "Applicant SSN {v} failed verification", "my ssn is {v}",
                   "\"ssn\": \"{v}\"", "W-9 received, TIN {v}"]}
SSN_URL = [("/verify?ssn={v}", enc_form), ("/applicants/{v}", enc_path),
           ("/search?q={v}", enc_form)]


def gen_us_ssn(loc, field):
    v = FAKE[loc].ssn()
    return standard(loc, field, v, [v], SSN_TEXT, SSN_URL)


CN_ID_TEXT = {
    "en": ["ID card {v} invalid", "resident id: {v}", "id_card={v}"],
    "zh": ["身份证号：{v}", "身份证号码{v}已被注册", "请核对证件号 {v}", "实名认证失败，身份证 {v}",
           "我的身份证是{v}"],
}
CN_ID_URL = [("/realname?id_card={v}", enc_form), ("/users/{v}/verify", enc_path),
             ("/search?q={v}", enc_form)]


def gen_cn_id(loc, field):
    v = FAKE[loc].ssn()
    if not cn_id_ok(v):
        raise Retry
    return standard(loc, field, v, [v], CN_ID_TEXT, CN_ID_URL)


PASSPORT_TEXT = {
    "en": ["passport no. {v}", "Passport: {v}", "Passport number {v} expires soon",
           "passport_number={v}", "traveller passport {v} does not match the booking"],
    "zh": ["护照号码 {v}", "护照号：{v}", "请核对护照号码{v}"],
    "de": ["Reisepass-Nr. {v}", "Reisepassnummer: {v}"],
    "fr": ["passeport n° {v}", "numéro de passeport : {v}"],
}
PASSPORT_URL = [("/checkin?passport={v}", enc_form),
                ("/travellers/documents?passport_no={v}&type=P", enc_typed)]


def gen_passport(loc, field):
    if loc == "en_US":
        v = FAKE[loc].passport_number()
    elif loc == "de_DE":   # nine characters from CFGHJKLMNPRTVWXYZ0-9, a letter first
        v = pick("CFGHJK") + rand_str("CFGHJKLMNPRTVWXYZ0123456789", 8)
    elif loc == "fr_FR":   # 2 digits, 2 letters, 5 digits
        v = rand_str(string.digits, 2) + rand_str(string.ascii_uppercase, 2) + rand_str(string.digits, 5)
    elif loc == "en_GB":   # 9 digits
        v = pick("1235") + rand_str(string.digits, 8)
    else:                  # E + 8 digits, or E + letter + 7 digits
        v = "E" + (rand_str(string.digits, 8) if R.random() < 0.5
                   else pick("ABCDEFGH") + rand_str(string.digits, 7))
    return standard(loc, field, v, [v], PASSPORT_TEXT, PASSPORT_URL)


PLATE_TEXT = {
    "en": ["plate {v}", "licence plate {v}", "license plate: {v}", "vehicle reg {v} entered car park",
           "Parked next to {v} again this morning", "{v} was speeding on the ring road",
           "white van {v} blocking the driveway", "ANPR match {v} at gate 3"],
    "zh": ["车牌 {v}", "车牌号：{v}", "{v}违章停车", "请{v}车主挪车", "小区门口的{v}挡住了出口"],
    "de": ["Kennzeichen {v}", "amtliches Kennzeichen: {v}", "Der Wagen {v} steht vor der Einfahrt"],
    "fr": ["immatriculation {v}", "plaque d'immatriculation : {v}", "La voiture {v} est mal garée"],
}
PLATE_URL = [("/parking/permits/{v}", enc_path), ("/fines?plate={v}", enc_form),
             ("/search?q={v}", enc_form)]


def gen_plate(loc, field):
    v = FAKE[loc].license_plate()
    if len(v) < 4:
        raise Retry
    return standard(loc, field, v, [v], PLATE_TEXT, PLATE_URL)


GPS_TEXT = {
    "en": ["{a}, {b}", "Location: {a}, {b}", "geo:{a},{b}", "lat {a} lon {b}",
           "{\"lat\": {a}, \"lng\": {b}}", "current position ({a}, {b}) accuracy 12 m",
           "delivery pin dropped at {a},{b}", "POINT({b} {a})"],
    "zh": ["我的位置：{a},{b}", "定位 {a}, {b} 附近", "坐标（{a}, {b}）"],
    "de": ["Standort: {a}, {b}", "Treffpunkt bei {a}, {b}"],
    "fr": ["Position : {a}, {b}", "Rendez-vous à {a}, {b}"],
}
GPS_URL = ["/map?lat={a}&lng={b}", "/maps/@{a},{b},15z", "/stores/nearby?ll={a}%2C{b}",
           "/api/geo?coords={a},{b}&radius=500", "/weather?lat={a}&lon={b}&units=metric"]
COUNTRY = {"en_US": "US", "zh_CN": "CN", "de_DE": "DE", "fr_FR": "FR", "en_GB": "GB"}


def gen_gps(loc, field):
    place = FAKE[loc].local_latlng(country_code=COUNTRY[loc])
    d = R.randint(3, 6)
    a = f"{float(place[0]) + R.uniform(-0.05, 0.05):.{d}f}"
    b = f"{float(place[1]) + R.uniform(-0.05, 0.05):.{d}f}"
    if a == b or a in b or b in a:
        raise Retry
    tpl = tpl_for(loc, GPS_TEXT) if field == "text" else pick(GPS_URL)
    return fill(tpl, a=a, b=b), [a, b], [a, b]


IPV4_TEXT = {"en": ["login from {v}", "client_ip={v}", "Connection reset by peer ({v}:443)",
                    "Failed password for invalid user from {v} port 52144 ssh2",
                    "X-Forwarded-For: {v}", "rate limit exceeded for {v}", "{v}",
                    "new session, ip address {v}, country DE"]}
IPV4_URL = [("/geo?ip={v}", enc_typed), ("/admin/bans/{v}", enc_path), ("/whois?q={v}", enc_form)]


def gen_ipv4(loc, field):
    v = EN.ipv4_public()
    return standard(loc, field, v, [v], IPV4_TEXT, IPV4_URL)


IPV6_TEXT = {"en": ["client [{v}]:443 connected", "remote_addr={v}", "login from {v}",
                    "X-Real-IP: {v}", "blocked {v} after 5 failed attempts", "{v}"]}
IPV6_URL = [("/geo?ip={v}", enc_typed), ("/geo?ip={v}", enc_form), ("/admin/bans/{v}", enc_path)]


def gen_ipv6(loc, field):
    v = EN.ipv6()
    if R.random() < 0.25:   # Faker never emits "::"; zero a run of groups and compress it
        groups = v.split(":")
        start = R.randint(1, 5)
        for i in range(start, start + R.randint(2, 3)):
            groups[i] = "0"
        v = ipaddress.IPv6Address(":".join(groups)).compressed
    return standard(loc, field, v, [v], IPV6_TEXT, IPV6_URL)


MAC_TEXT = {"en": ["device {v} joined wifi", "MAC address: {v}", "DHCPACK on 192.168.1.23 to {v} via eth0",
                   "hwaddr={v}", "unknown station {v} deauthenticated", "Physical Address. . . : {v}"]}
MAC_URL = [("/devices/{v}/config", enc_path), ("/lookup?mac={v}", enc_form)]


def gen_mac(loc, field):
    v = EN.mac_address()
    r = R.random()
    if r < 0.35:
        v = v.upper().replace(":", "-")
    elif r < 0.5:
        v = v.upper()
    elif r < 0.6:
        h = v.replace(":", "")
        v = f"{h[:4]}.{h[4:8]}.{h[8:]}"
    return standard(loc, field, v, [v], MAC_TEXT, MAC_URL)


IMEI_TEXT = {"en": ["IMEI: {v}", "IMEI {v} blacklisted", "device {v} registered to push service",
                    "lost phone, imei={v}", "{v}", "warranty claim for handset {v}",
                    "\"imei\": \"{v}\""]}
IMEI_URL = [("/devices/{v}/status", enc_path), ("/imei/check?imei={v}", enc_form)]


def gen_imei(loc, field):
    body = pick(["35", "86", "01", "49"]) + rand_str(string.digits, 12)
    v = body + luhn_digit(body)
    return standard(loc, field, v, [v], IMEI_TEXT, IMEI_URL)


JWT_HEADER = b64url(b'{"alg":"HS256","typ":"JWT"}')
JWT_TEXT = {"en": ["token {v} expired", "Invalid JWT: {v}", "Cookie: session={v}", "{v}",
                   "jwt={v}", "refresh failed for {v}: signature mismatch"]}
JWT_URL = [("/auth/callback?token={v}", enc_typed), ("/verify?token={v}&redirect=%2Fdashboard", enc_typed),
           ("/api/v1/session?jwt={v}", enc_form)]


def gen_jwt(loc, field):
    iat = R.randint(1_700_000_000, 1_800_000_000)
    sub = pick([str(R.randint(1000, 99_999_999)), str(uuid.UUID(int=R.getrandbits(128), version=4)),
                "user_" + rand_str(ALNUM, 12)])
    claims = {"sub": sub, "iat": iat}
    if R.random() < 0.5:
        claims["exp"] = iat + pick([900, 3600, 86400])
    if R.random() < 0.3:
        claims["role"] = pick(["user", "admin", "editor"])
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64url(R.randbytes(32))
    token = f"{JWT_HEADER}.{payload}.{sig}"
    return standard(loc, field, token, [payload, sig], JWT_TEXT, JWT_URL)


BEARER_TEXT = {"en": ["Authorization: Bearer {v}", "curl -H \"Authorization: Bearer {v}\" https://api.example.com/v1/me",
                      "headers={'Authorization': 'Bearer {v}'}", "401 Unauthorized for Authorization: Bearer {v}",
                      "request headers: Accept: application/json | Authorization: Bearer {v}"]}


def gen_bearer(loc, field):
    token = rand_str(ALNUM + ("-._" if R.random() < 0.4 else ""), R.randint(32, 48))
    if not token[0].isalnum() or not token[-1].isalnum():
        raise Retry
    return standard(loc, "text", token, [token], BEARER_TEXT, [])


SECRET_KEYS = ["password", "passwd", "token", "api_key", "apikey", "secret", "access_token", "client_secret"]
PROVIDER_TEXT = {
    "sk_live_": ["STRIPE_SECRET_KEY={v}", "stripe.api_key = \"{v}\"", "leaked key {v} in build log"],
    "AKIA": ["aws_access_key_id = {v}", "AWS_ACCESS_KEY_ID={v}", "InvalidClientTokenId for key {v}"],
    "ghp_": ["GITHUB_TOKEN={v}", "git push with token {v} rejected", "export GH_TOKEN={v}"],
    "xoxb-": ["SLACK_BOT_TOKEN={v}", "slack client init token={v}", "invalid_auth for {v}"],
}
SECRET_URL = [("/callback?access_token={v}&expires_in=3600", "access_token"),
              ("/api/v1/export?api_key={v}&format=csv", "api_key"),
              ("/reset-password?token={v}", "token"), ("/hooks/deploy?secret={v}", "secret"),
              ("/oauth/token?client_id=web&client_secret={v}", "client_secret"),
              ("/login?password={v}&remember=1", "password")]


def secret_value():
    r = R.random()
    if r < 0.45:
        return FAKE[pick(LOCALES)].password(length=R.randint(8, 20), special_chars=R.random() < 0.7)
    if r < 0.7:
        return rand_hex(pick([32, 40, 64]))
    return rand_str(ALNUM, R.randint(20, 40))


def gen_secret_kv(loc, field):
    if field == "url":
        tpl, _ = pick(SECRET_URL)
        v = secret_value()
        written = pick([enc_form, enc_typed])(v)
        return fill(tpl, v=written), [v], [written]
    r = R.random()
    if r < 0.3:
        prefix = pick(list(PROVIDER_TEXT))
        if prefix == "sk_live_":
            v = prefix + rand_str(ALNUM, 24)
        elif prefix == "AKIA":
            v = prefix + rand_str(UPPER_ALNUM, 16)
        elif prefix == "ghp_":
            v = prefix + rand_str(ALNUM, 36)
        else:
            v = f"xoxb-{rand_str(string.digits, 12)}-{rand_str(string.digits, 13)}-{rand_str(ALNUM, 24)}"
        return fill(pick(PROVIDER_TEXT[prefix]), v=v), [v], [v]
    v = secret_value()
    key = pick(SECRET_KEYS)
    shape = R.random()
    if shape < 0.2:
        kv = f"\"{key}\": \"{v}\""
        text = pick(["request body: {{\"client_id\": \"web\", {kv}}}", "config loaded: {{{kv}, \"debug\": false}}",
                     "{{{kv}}}"]).format(kv=kv)
    else:
        sep = pick(["=", ": ", "=", ":", " = "])
        kv = f"{pick([key, key, key.upper()])}{sep}{v}"
        text = pick(["{kv}", "login failed, {kv}", "DEBUG settings {kv} timeout=30",
                     "connecting with {kv}", "env: NODE_ENV=production {kv}", "[config] {kv}"]).format(kv=kv)
    return text, [v], [v]


PEM_KINDS = [("RSA PRIVATE KEY", "MII", 64), ("PRIVATE KEY", "MII", 64),
             ("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjE", 70)]


def gen_pem(loc, field):
    label, lead, width = pick(PEM_KINDS)
    lines = R.randint(3, 4)
    raw = base64.b64encode(R.randbytes((width * lines) // 4 * 3)).decode()
    body = lead + raw[len(lead):]
    chunks = [body[i:i + width] for i in range(0, width * (lines - 1), width)]
    chunks.append(body[width * (lines - 1):width * (lines - 1) + R.randint(24, width)])
    block = f"-----BEGIN {label}----- {' '.join(chunks)} -----END {label}-----"
    text = pick(["{b}", "config: ssh_key=\"{b}\"", "failed to parse key {b}", "DEPLOY_KEY={b}"]).replace("{b}", block)
    secrets = [chunks[0][:40]]
    if len(chunks[-1]) >= 20:
        secrets.append(chunks[-1])
    return text, secrets, [block]


USERINFO_SCHEMES = [("https", "{h}/{p}"), ("postgres", "db:5432/{d}"), ("postgresql", "{h}:5432/{d}"),
                    ("mysql", "mysql.internal:3306/{d}"), ("redis", "cache:6379/0"), ("amqp", "rabbit:5672/%2F"),
                    ("mongodb+srv", "cluster0.ab1cd.mongodb.net/{d}?retryWrites=true"),
                    ("ftp", "files.example.com/upload"), ("http", "{h}:8080/{p}")]
USERINFO_TEXT = ["could not connect to {u}", "{u}", "DATABASE_URL={u}", "GET {u} failed: 401",
                 "Retrying request to {u} (attempt 2/5)", "git clone {u} failed: authentication required",
                 "proxy={u}", "error: connection to {u} refused"]
USERINFO_URL = ["/redirect?next={u}", "/proxy?target={u}&cache=0", "/debug/ping?url={u}"]


def gen_url_userinfo(loc, field):
    user = user_name(pick(LOCALES))
    if R.random() < 0.5:
        pw = FAKE[pick(LOCALES)].password(length=R.randint(8, 16), special_chars=R.random() < 0.6)
    else:
        pw = rand_str(ALNUM, R.randint(10, 24))
    scheme, rest = pick(USERINFO_SCHEMES)
    rest = fill(rest, h=pick(["api.example.com", "example.org", "registry.example.net", "intranet.example.com"]),
                p=pick(["v1/items", "repo.git", "upload", "status", "index.html"]),
                d=pick(["orders", "app", "analytics", "prod"]))
    if scheme == "https" and "repo.git" not in rest and R.random() < 0.3:
        pw = "ghp_" + rand_str(ALNUM, 36)
        rest = "github.com/example-org/" + pick(["api", "web", "infra"]) + ".git"
    userinfo = quote(user, safe="") + ":" + quote(pw, safe="!$&'()*+,;=")
    full = f"{scheme}://{userinfo}@{rest}"
    if field == "text":
        return fill(pick(USERINFO_TEXT), u=full), [user, pw], [full]
    written = enc_form(full)
    return fill(pick(USERINFO_URL), u=written), [user, pw], [written]


HOME_PROJ = ["shop", "api-server", "dashboard", "scraper", "thesis", "invoice-tool", "website", "bot"]


def home_frames(u, loc):
    """(text with {H} for each home-directory prefix, prefix as written)."""
    proj = pick(HOME_PROJ)
    Proj = proj.title().replace("-", "")
    n, c = str(R.randint(2, 900)), str(R.randint(1, 80))
    choices = [
        (f'Traceback (most recent call last): | File "{{H}}/projects/{proj}/app.py", line {n}, in main | '
         f'File "/usr/lib/python3.11/json/decoder.py", line 355, in raw_decode', f"/home/{u}"),
        (f"at Object.<anonymous> ({{H}}/dev/{proj}/index.js:{n}:{c}) at Module._compile "
         f"(node:internal/modules/cjs/loader:1376:14)", f"/Users/{u}"),
        (f"at {Proj}.Program.Main(String[] args) in {{H}}\\source\\repos\\{Proj}\\Program.cs:line {n}",
         f"C:\\Users\\{u}"),
        (f"thread 'main' panicked at {{H}}/.cargo/registry/src/index.crates.io-6f17d22bba15001f/"
         f"serde_json-1.0.108/src/de.rs:{n}:{c}", f"/home/{u}"),
        (f"goroutine 1 [running]: | main.main() | {{H}}/go/src/{proj}/main.go:{n} +0x1d", f"/home/{u}"),
        (f"FileNotFoundError: [Errno 2] No such file or directory: '{{H}}/Downloads/{proj}.csv'", f"/Users/{u}"),
        (f"Error: ENOENT: no such file or directory, open '{{H}}\\AppData\\Roaming\\{Proj}\\config.json'",
         f"C:\\Users\\{u}"),
        (f"java.io.FileNotFoundException: {{H}}/.m2/settings.xml (No such file or directory) at "
         f"java.base/java.io.FileInputStream.open0(Native Method)", f"/home/{u}"),
        (f"  File \"{{H}}/Library/Caches/pypoetry/virtualenvs/{proj}-Xa3kP2-py3.12/lib/python3.12/"
         f"site-packages/httpx/_client.py\", line {n}, in send", f"/Users/{u}"),
        (f"at renderPage ({{H}}/work/{proj}/src/pages/index.tsx:{n}:{c}) at {{H}}/work/{proj}/src/main.tsx:12:3",
         f"/home/{u}"),
    ]
    if loc == "zh_CN" and R.random() < 0.4:
        choices = [(f"无法打开文件 {{H}}/下载/{proj}.pdf", f"/home/{u}"),
                   (f"错误：{{H}}\\Desktop\\新建文件夹\\{proj}.xlsx 不存在", f"C:\\Users\\{u}"),
                   (f"编译失败：{{H}}/代码/{proj}/src/main.rs:{n}:{c}", f"/Users/{u}")]
    return pick(choices)


def gen_home_dir(loc, field):
    u = user_name(loc)
    frame, prefix = home_frames(u, loc)
    if field == "text":
        return frame.replace("{H}", prefix), [u], [prefix]
    # In a URL: the file path alone, or the whole frame as a crash-report parameter.
    if R.random() < 0.5:
        path = prefix + pick(["/Downloads/report.pdf", "/Desktop/notes.txt", "/projects/app/main.py"]
                             if "\\" not in prefix else ["\\Desktop\\notes.txt", "\\Documents\\invoice.docx"])
        text = fill(pick(["/open?file={p}", "/errors/report?path={p}&line=42", "/viewer?src=file%3A%2F%2F{p}"]),
                    p=enc_form(path))
        return text, [u], [enc_form(prefix)]
    frame_text = frame.replace("{H}", prefix)
    return "/api/crash-report?stack=" + enc_form(frame_text), [u], [enc_form(prefix)]


# (type, locales, generator, share of url samples)
PII_TYPES = [
    ("email", LOCALES, gen_email, 0.25),
    ("phone", LOCALES, gen_phone, 0.25),
    ("card", LOCALES, gen_card, 0.25),
    ("iban", ["de_DE", "fr_FR", "en_GB"], gen_iban, 0.25),
    ("us_ssn", ["en_US"], gen_us_ssn, 0.25),
    ("cn_id", ["zh_CN"], gen_cn_id, 0.25),
    ("passport", LOCALES, gen_passport, 0.2),
    ("plate", ["en_US", "de_DE", "fr_FR", "en_GB", "zh_CN"], gen_plate, 0.2),
    ("gps", LOCALES, gen_gps, 0.25),
    ("ipv4", ["-"], gen_ipv4, 0.25),
    ("ipv6", ["-"], gen_ipv6, 0.25),
    ("mac", ["-"], gen_mac, 0.2),
    ("imei", ["-"], gen_imei, 0.25),
    ("jwt", ["-"], gen_jwt, 0.25),
    ("bearer", ["-"], gen_bearer, 0.0),
    ("secret_kv", ["-"], gen_secret_kv, 0.25),
    ("pem", ["-"], gen_pem, 0.0),
    ("url_userinfo", ["-"], gen_url_userinfo, 0.25),
    ("home_dir", LOCALES, gen_home_dir, 0.25),
]
SECRET_KV_COUNT = 160    # many shapes: eight keywords, JSON, four provider key formats


# ---------------------------------------------------------------------------------------------
# Technical strings
# ---------------------------------------------------------------------------------------------

def rdate():
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return start + timedelta(seconds=R.randint(0, 4 * 365 * 86400), microseconds=R.randint(0, 999_999))


# (file, function, typical line range) as they appear together in real tracebacks
PY_FRAMES = [("/usr/lib/python3.11/json/decoder.py", "raw_decode", (337, 355)),
             ("/usr/lib/python3.11/json/__init__.py", "loads", (346, 346)),
             ("/usr/local/lib/python3.12/site-packages/requests/adapters.py", "send", (486, 713)),
             ("/usr/local/lib/python3.12/site-packages/requests/sessions.py", "request", (589, 703)),
             ("/app/src/worker/tasks.py", "process_order", (12, 400)),
             ("/opt/venv/lib/python3.10/site-packages/django/core/handlers/base.py", "_get_response", (181, 197)),
             ("/srv/app/api/views.py", "checkout", (20, 600)), ("/srv/app/api/views.py", "get", (20, 600)),
             ("/usr/lib/python3.11/asyncio/base_events.py", "run_until_complete", (650, 654)),
             ("/usr/local/lib/python3.12/site-packages/sqlalchemy/engine/base.py", "_execute_context", (1810, 1990)),
             ("<frozen runpy>", "_run_module_as_main", (198, 198)),
             ("/app/.venv/lib/python3.11/site-packages/celery/app/trace.py", "__protected_call__", (730, 760)),
             ("/app/main.py", "<module>", (1, 120)),
             ("/usr/lib/python3/dist-packages/apt/cache.py", "update", (500, 560))]
PY_ERRORS = ["json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)", "KeyError: 'order_id'",
             "TimeoutError: timed out", "ConnectionRefusedError: [Errno 111] Connection refused",
             "ValueError: invalid literal for int() with base 10: 'abc'",
             "AttributeError: 'NoneType' object has no attribute 'get'", "ZeroDivisionError: division by zero",
             "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.example.com', port=443): Read timed out. (read timeout=10)",
             "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly"]


def tech_stack_python():
    frames = []
    for path, func, (lo, hi) in R.sample(PY_FRAMES, R.randint(1, 3)):
        frames.append(f'File "{path}", line {R.randint(lo, hi)}, in {func}')
    parts = (["Traceback (most recent call last):"] if R.random() < 0.5 else []) + frames
    if R.random() < 0.6:
        parts.append(pick(PY_ERRORS))
    return " | ".join(parts)


JS_FUNCS = ["render", "commitRoot", "onClick", "fetchJSON", "t.value", "Array.map", "HTMLButtonElement.<anonymous>",
            "async Promise.all", "processQueue", "useEffect", "n", "e.exports", "Object.next", "flushSyncCallbacks"]
JS_HOSTS = ["cdn.example.com", "static.example.net", "assets.shop.example.org", "www.example.com/_next/static/chunks"]
JS_ERRORS = ["TypeError: Cannot read properties of undefined (reading 'map')", "ReferenceError: process is not defined",
             "Uncaught (in promise) Error: Request failed with status code 500", "RangeError: Maximum call stack size exceeded",
             "SyntaxError: Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON", "ChunkLoadError: Loading chunk 482 failed.",
             "TypeError: Failed to fetch", "TypeError: e is not a function"]


def tech_stack_js():
    host = pick(JS_HOSTS)
    frames = []
    for _ in range(R.randint(1, 3)):
        bundle = pick(["app", "main", "vendor", "chunk-vendors", "framework", "index", "482", "pages/_app"])
        frames.append(f"at {pick(JS_FUNCS)} (https://{host}/{bundle}.{rand_hex(pick([6, 8, 20]))}.js:"
                      f"{R.randint(1, 3)}:{R.randint(100, 99999)})")
    head = [pick(JS_ERRORS)] if R.random() < 0.6 else []
    return pick([" ", " | "]).join(head + frames)


# (class with package, methods) that belong together
JAVA_FRAMES = [("com.example.shop.checkout.CartService", ["addItem", "checkout", "applyCoupon"]),
               ("org.springframework.web.servlet.DispatcherServlet", ["doDispatch", "doService"]),
               ("com.example.api.orders.OrderController", ["placeOrder", "getOrder"]),
               ("io.netty.channel.AbstractChannelHandlerContext", ["invokeChannelRead", "fireChannelRead"]),
               ("org.hibernate.engine.jdbc.spi.SqlExceptionHelper", ["logExceptions", "convert"]),
               ("com.example.billing.service.InvoiceGenerator", ["render", "generate"]),
               ("com.example.Foo", ["bar", "baz"]), ("java.base/java.lang.Thread", ["run"]),
               ("java.base/java.util.concurrent.ThreadPoolExecutor", ["runWorker"])]
JAVA_ERRORS = ["java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"s\" is null",
               "java.lang.IllegalStateException: Cart is empty", "Caused by: java.net.SocketTimeoutException: Read timed out",
               "org.postgresql.util.PSQLException: ERROR: deadlock detected", "java.lang.OutOfMemoryError: Java heap space",
               "Exception in thread \"main\" java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3"]


def tech_stack_java():
    frames = []
    for cls, methods in R.sample(JAVA_FRAMES, R.randint(1, 3)):
        src = cls.rsplit(".", 1)[1] + ".java"
        frames.append(f"at {cls}.{pick(methods)}({src}:{R.randint(12, 1900)})")
    head = [pick(JAVA_ERRORS)] if R.random() < 0.7 else []
    return " ".join(head + frames)


RUST_MODS = ["src/main.rs", "src/lib.rs", "src/handlers/ingest.rs", "src/store/mod.rs", "crates/core/src/parse.rs",
             "src/bin/worker.rs"]


def tech_stack_rust():
    loc = f"{pick(RUST_MODS)}:{R.randint(3, 900)}:{R.randint(1, 60)}"
    return pick([
        f"thread 'main' panicked at {loc}: called `Option::unwrap()` on a `None` value",
        f"thread 'tokio-runtime-worker' panicked at {loc}: index out of bounds: the len is {R.randint(0, 9)} but the index is {R.randint(10, 99)}",
        f"error[E0308]: mismatched types --> {loc}",
        f"warning: unused variable: `ctx` --> {loc}",
        f"at {loc}",
        f"{R.randint(0, 30)}: core::panicking::panic_fmt at /rustc/{rand_hex(40)}/library/core/src/panicking.rs:{R.randint(50, 200)}:{R.randint(5, 20)} | {R.randint(31, 40)}: app::run at {loc}",
    ])


# (function line, file line) pairs that belong together
GO_FRAMES = [("panic({0x7a1c40?, 0xc0001b2000?})", "/usr/local/go/src/runtime/panic.go:{n} +0x{h3}"),
             ("net/http.(*conn).serve(0xc000{h6}, {0xa1b2c0, 0xc0002a4000})", "/usr/local/go/src/net/http/server.go:{n} +0x{h3}"),
             ("main.(*Server).handleIngest(0xc000{h6}, {0xa1c2e0, 0xc0001f2000}, 0xc000{h6})", "/app/cmd/server/ingest.go:{n} +0x{h2}"),
             ("github.com/example/shop/internal/cart.(*Store).Add(...)", "/app/internal/cart/store.go:{n}"),
             ("github.com/jackc/pgx/v5.(*Conn).Query(0xc000{h6}, ...)", "/go/pkg/mod/github.com/jackc/pgx/v5@v5.5.{d}/conn.go:{n} +0x{h3}"),
             ("main.main()", "/app/main.go:{n} +0x{h2}"), ("created by net/http.(*Server).Serve in goroutine 1",
                                                          "/usr/local/go/src/net/http/server.go:{n} +0x{h3}")]


def tech_stack_go():
    parts = [f"goroutine {R.randint(1, 900)} [running]:"] if R.random() < 0.6 else []
    if R.random() < 0.4:
        parts.insert(0, pick(["panic: runtime error: invalid memory address or nil pointer dereference",
                              "panic: runtime error: index out of range [5] with length 3", "fatal error: all goroutines are asleep - deadlock!"]))
    for func, line in R.sample(GO_FRAMES, R.randint(1, 2)):
        parts.append(func.replace("{h6}", rand_hex(6)))
        parts.append(line.replace("{n}", str(R.randint(20, 3300))).replace("{h3}", rand_hex(3))
                     .replace("{h2}", rand_hex(2)).replace("{d}", str(R.randint(0, 5))))
    return " | ".join(parts)


URL_HOSTS = ["example.com", "docs.example.org", "shop.example.com", "blog.example.net", "www.example.io", "help.example.com"]
URL_PATHS = ["docs/v2/getting-started", "blog/2026/11/release-notes", "products/running-shoes", "category/shoes",
             "pricing", "changelog", "docs/api/events", "de/kontakt", "fr/aide/livraison", "zh-cn/about",
             "search", "collections/winter-sale", "docs/self-hosting/docker"]
URL_PARAMS = ["utm_source=newsletter", "utm_medium=email", "utm_campaign=black_friday_2026", "ref=producthunt",
              "page={n}", "sort=price_asc", "lang=de", "q=running+shoes", "color=blue&size=42", "tab=reviews",
              "utm_source=google&utm_medium=cpc", "gclid_present=0", "view=grid"]


def url_path_query():
    path = "/" + pick(URL_PATHS)
    if R.random() < 0.7:
        params = R.sample(URL_PARAMS, R.randint(1, 3))
        path += "?" + "&".join(p.replace("{n}", str(R.randint(2, 40))) for p in params)
    return path


def tech_url():
    pq = url_path_query()
    if R.random() < 0.5:
        return "url", pq
    return "text", pick(["https://{h}{p}", "see https://{h}{p}", "redirected to https://{h}{p}"]).format(h=pick(URL_HOSTS), p=pq)


def rand_uuid():
    """A version 4 UUID, or now and then a time-ordered version 7 one."""
    if R.random() < 0.25:
        ms = int(rdate().timestamp() * 1000)
        n = (ms << 80) | (0x7 << 76) | (R.getrandbits(12) << 64) | (0b10 << 62) | R.getrandbits(62)
        return str(uuid.UUID(int=n))
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def tech_uuid():
    u = rand_uuid()
    return pick([f"order {u} not found", f"request_id={u}", f"Job {u} finished in {R.randint(3, 9000)} ms",
                 f"DELETE /api/v1/carts/{u} HTTP/1.1 204", f"trace_id: {u}", u,
                 f"session {u} expired after 30 min", f"idempotency key {u} already used"])


def semver():
    v = f"{R.randint(0, 24)}.{R.randint(0, 40)}.{R.randint(0, 30)}"
    if R.random() < 0.2:
        v += pick(["-beta.", "-rc.", "-alpha."]) + str(R.randint(1, 9))
    return v


def tech_version():
    cv = f"{R.randint(118, 133)}.0.{R.randint(5900, 6999)}.{R.randint(20, 210)}"
    return pick([
        semver(), "v" + semver(), f"Chrome/{cv}", f"Python 3.{R.randint(8, 13)}.{R.randint(0, 12)}",
        f"node v{R.randint(16, 23)}.{R.randint(0, 20)}.{R.randint(0, 9)}",
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{cv} Safari/537.36",
        f"Mozilla/5.0 (X11; Linux x86_64; rv:{R.randint(115, 134)}.0) Gecko/20100101 Firefox/{R.randint(115, 134)}.0",
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_{R.randint(0, 6)} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.{R.randint(0, 6)} Mobile/15E148 Safari/604.1",
        f"upgraded from {semver()} to {semver()}", f"app version {semver()} (build {R.randint(100, 9999)})",
        f"rustc 1.{R.randint(70, 84)}.{R.randint(0, 2)}", f"PostgreSQL {R.randint(12, 17)}.{R.randint(0, 9)}",
        f"Android {R.randint(10, 15)}; SDK {R.randint(29, 35)}", f"nginx/1.{R.randint(18, 27)}.{R.randint(0, 3)}",
    ])


def tech_timestamp():
    t = rdate()
    ms = t.microsecond // 1000
    off = pick([0, 60, 120, -300, 480, 330])
    tz = timezone(timedelta(minutes=off))
    lt = t.astimezone(tz)
    zone = lt.strftime("%z")
    zone_c = zone[:3] + ":" + zone[3:]
    ts = pick([
        t.strftime("%Y-%m-%dT%H:%M:%SZ"), t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms:03d}Z",
        lt.strftime("%Y-%m-%dT%H:%M:%S.%f") + zone_c, lt.strftime("%Y-%m-%dT%H:%M:%S") + zone_c,
        lt.strftime("%a, %d %b %Y %H:%M:%S ") + zone, t.strftime("%Y-%m-%d %H:%M:%S,") + f"{ms:03d}",
        lt.strftime("%d/%b/%Y:%H:%M:%S ") + zone, t.strftime("%Y-%m-%d %H:%M:%S"), t.strftime("%Y-%m-%d"),
    ])
    return pick(["{t}", "[{t}] INFO server started", "{t} WARN slow query", "Last-Modified: {t}",
                 "created_at={t}", "expires {t}", "{t} ERROR worker crashed"]).replace("{t}", ts)


def tech_git_hash():
    h40 = rand_hex(40)
    return pick([f"HEAD is now at {h40[:7]} Fix checkout total rounding", f"commit {h40}", f"built from {h40}",
                 f"git rev-parse HEAD: {h40}", f"{h40[:7]} Bump lodash from 4.17.20 to 4.17.21",
                 f"Merge {h40[:7]} into {rand_hex(7)}", f"revision {h40[:12]}", f"version 1.4.2+{h40[:7]}"])


def tech_sha256():
    d = rand_hex(64)
    return pick([f"sha256:{d}", f"checksum mismatch: expected {d} got {rand_hex(64)}", f"{d}  obscura-linux-x86_64.tar.gz",
                 f"image digest sha256:{d}", f"SHA256 ({pick(['app.tar.gz', 'setup.exe', 'data.bin'])}) = {d}"])


def tech_mem_addr():
    a = "0x7f" + rand_hex(10)
    return pick([f"Segmentation fault at {a}", f"<object object at {a}>", f"pc=0x{rand_hex(6)} sp=0xc000{rand_hex(6)}",
                 f"#  SIGSEGV (0xb) at pc=0x00007f{rand_hex(10)}, pid=1, tid=7", f"free(): invalid pointer {a}",
                 f"<app.models.Order object at {a}>", f"ptr {a} freed twice"])


API_PATHS = ["/api/v1/items?page={n}", "/api/v1/orders", "/api/v2/events/batch", "/static/app.{h}.css", "/health",
             "/api/v1/products/{n}/reviews?limit=20", "/favicon.ico", "/graphql", "/api/v1/carts/current",
             "/robots.txt", "/sitemap.xml", "/api/v1/search?q=shoes&page={n}"]


def api_path():
    return pick(API_PATHS).replace("{n}", str(R.randint(1, 500))).replace("{h}", rand_hex(8))


def tech_http_line():
    method = pick(["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    proto = pick(["HTTP/1.1", "HTTP/2", "HTTP/1.0"])
    status = pick(["200", "201", "204", "301", "304", "400", "404", "429", "500", "502", "503"])
    p = api_path()
    return pick([f"{method} {p} {proto} {status}", f"\"{method} {p} {proto}\" {status} {R.randint(0, 90000)}",
                 f"{method} {p} -> {status} in {R.randint(1, 2500)}ms", f"{proto} {status} {method} {p}"])


SQL = ["SELECT id FROM orders WHERE created_at > $1 LIMIT {n}",
       "SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = $1",
       "INSERT INTO events (id, name, ts, props) VALUES ($1, $2, $3, $4)",
       "UPDATE carts SET updated_at = now() WHERE id = $1", "DELETE FROM sessions WHERE expires_at < now()",
       "SELECT count(*) FROM page_views WHERE site_id = ? AND day BETWEEN ? AND ?",
       "CREATE INDEX CONCURRENTLY idx_events_ts ON events (ts)", "BEGIN; SELECT pg_advisory_lock({n}); COMMIT;",
       "SELECT date_trunc('hour', ts) AS h, count(*) FROM events GROUP BY 1 ORDER BY 1 DESC LIMIT {n}",
       "EXPLAIN ANALYZE SELECT * FROM products WHERE sku = $1"]


SQL_ERRORS = ["ERROR: relation \"order_items\" does not exist at character {n}",
              "ERROR: duplicate key value violates unique constraint \"orders_pkey\"",
              "ERROR: column \"totl\" does not exist at character {n}", "ERROR: canceling statement due to statement timeout"]


def tech_sql():
    if R.random() < 0.15:
        return pick(SQL_ERRORS).replace("{n}", str(R.randint(5, 500)))
    s = pick(SQL).replace("{n}", str(R.randint(5, 500)))
    return pick(["{s}", "slow query ({d} ms): {s}", "executing: {s}", "{s} -- {d} ms"]).replace("{s}", s).replace(
        "{d}", str(R.randint(200, 9000)))


FILE_PATHS = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/var/log/nginx/access.log", "C:\\Program Files\\App\\app.exe",
              "/etc/nginx/conf.d/default.conf", "/opt/obscura/bin/obscura", "C:\\Windows\\System32\\drivers\\etc\\hosts",
              "/var/lib/postgresql/16/main/pg_wal/0000000100000000000000{h2}", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
              "/Applications/Slack.app/Contents/MacOS/Slack", "/tmp/tmp{r}/build.log", "/proc/self/status",
              "C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe", "/srv/www/shop/public/index.php",
              "/Library/Frameworks/Python.framework/Versions/3.12/lib/python3.12/ssl.py", "/etc/ssl/certs/ca-certificates.crt",
              "/var/run/docker.sock", "D:\\builds\\release\\setup.msi", "/app/node_modules/.vite/deps/react.js"]


def tech_file_path():
    p = pick(FILE_PATHS).replace("{h2}", rand_hex(2).upper()).replace("{r}", rand_str(string.ascii_lowercase + string.digits, 8))
    return pick(["{p}", "loaded {p}", "open {p}: permission denied", "could not read {p}", "writing {p} ({k} KB)",
                 "watching {p}"]).replace("{p}", p).replace("{k}", str(R.randint(1, 9000)))


def tech_css():
    c = "#" + rand_hex(pick([3, 6]))
    return pick([c, f"color: {c}", f"rgba({R.randint(0, 255)}, {R.randint(0, 255)}, {R.randint(0, 255)}, 0.{R.randint(1, 9)})",
                 f"background: {c}; margin: 0 auto", f"hsl({R.randint(0, 360)}, {R.randint(10, 90)}%, {R.randint(10, 97)}%)",
                 f"transform: translate({R.randint(-40, 40)}px, {R.randint(-40, 40)}px) scale(1.{R.randint(0, 9)})",
                 f"@media (max-width: {pick([480, 640, 768, 1024, 1280])}px)", f"font: {R.randint(11, 20)}px/1.5 -apple-system, sans-serif",
                 f"border: 1px solid {c}", f"box-shadow: 0 {R.randint(1, 8)}px {R.randint(2, 24)}px rgba(0, 0, 0, 0.{R.randint(1, 5)})"])


def tech_duration_size():
    return pick([f"took {R.randint(1, 9999)} ms", f"{R.randint(1, 999)}.{R.randint(0, 9)} MB", f"Request completed in {R.randint(0, 9)}.{R.randint(10, 99)}s",
                 f"downloaded {R.randint(1, 9)}.{R.randint(0, 9)} GiB in {R.randint(1, 59)}m {R.randint(0, 59)}s",
                 f"GC pause {R.randint(1, 300)}ms", f"heap {R.randint(64, 2048)} MiB / {R.randint(2, 16)} GiB",
                 f"uploaded {R.randint(1, 999)} KB", f"TTFB {R.randint(20, 900)} ms, LCP {R.randint(1, 4)}.{R.randint(0, 9)} s",
                 f"timeout after {R.randint(1, 120)}s", f"bundle size {R.randint(80, 900)} kB (gzip {R.randint(20, 300)} kB)",
                 f"耗时 {R.randint(1, 9999)} 毫秒"])


def tech_localhost():
    port = pick([1313, 3000, 3001, 4000, 4200, 5000, 5173, 5432, 5500, 6379, 8000, 8080, 8081, 8443, 8888, 9000, 9090, 24678])
    return pick([f"localhost:{port}", f"http://localhost:{port}/dashboard", f"listening on localhost:{port}",
                 f"ws://localhost:{port}/__vite_hmr", f"connect ECONNREFUSED localhost:{port}",
                 f"proxying /api to http://localhost:{port}", f"Server running at http://localhost:{port}/",
                 f"curl http://localhost:{port}/health"])


ERROR_CODES = ["E0425", "E0308", "E0599", "ERR_CONNECTION_REFUSED", "ERR_NAME_NOT_RESOLVED", "net::ERR_CERT_DATE_INVALID",
               "ECONNRESET", "ETIMEDOUT", "EADDRINUSE", "SQLSTATE 23505", "ORA-00942", "0x80070005", "errno 111",
               "exit code 137", "TS2339", "CS0246", "ERR_PNPM_OUTDATED_LOCKFILE"]


HTTP_REASONS = {"400": "Bad Request", "401": "Unauthorized", "403": "Forbidden", "404": "Not Found", "409": "Conflict",
                "429": "Too Many Requests", "500": "Internal Server Error", "502": "Bad Gateway",
                "503": "Service Unavailable", "504": "Gateway Timeout"}


def tech_error_code():
    status = pick(list(HTTP_REASONS))
    return pick(["{c}", "error {c}", "failed with {c}", "HTTP {s}", "HTTP {s} {r}", "{c} (retrying)",
                 "upstream returned HTTP {s}", "{c}: see logs"]).replace("{c}", pick(ERROR_CODES)).replace(
        "{s}", status).replace("{r}", HTTP_REASONS[status])


def sku():
    return pick([lambda: pick(["TS", "HX", "BK", "SH", "MUG"]) + "-" + rand_str(string.digits, R.randint(2, 4)),
                 lambda: "SKU" + rand_str(string.digits, R.randint(3, 5)),
                 lambda: pick("ABCP") + rand_str(string.digits, R.randint(4, 6)),
                 lambda: rand_str(string.ascii_uppercase, 2) + rand_str(string.digits, 3) + pick(["", "-S", "-M", "-XL"])])()


def tech_sku():
    s = sku()
    assert len(s) <= 8
    return pick(["SKU {s} out of stock", "item {s} added", "product {s}", "Art.-Nr. {s}", "商品编号 {s}", "{s}",
                 "variant {s} discontinued"]).replace("{s}", s)


PRICE_STYLES = ["€{e}.{c}", "${e}.{c}", "£{e}.{c}", "¥{y}", "{d},{c} €", "CHF {n}.{c}", "{n},{c} EUR"]


def price(style):
    n = R.randint(0, 2999)
    c = pick(["00", "99", "50", "95", f"{R.randint(0, 99):02d}"])
    return fill(style, e=f"{n:,}", d=f"{n:,}".replace(",", "."), n=str(n), c=c, y=f"{R.randint(1, 99999):,}")


def tech_price():
    style = pick(PRICE_STYLES)
    return pick(["{p}", "Total: {p}", "Subtotal {p} (incl. VAT 19%)", "price={p}", "合计 {p}", "was {p}, now {q}",
                 "Free shipping over {p}"]).replace("{p}", price(style)).replace("{q}", price(style))


def tech_percent():
    p = pick([str(R.randint(0, 100)), f"{R.randint(0, 99)}.{R.randint(0, 9)}"]) + "%"
    return pick(["{p}", "conversion rate {p}", "CPU {p}", "-{p} vs last week", "+{p} vs last week", "缩放 {p}",
                 "bounce rate {p}", "progress: {p}", "disk usage {p}", "{p} off this weekend"]).replace("{p}", p)


def tech_count():
    n = R.randint(0, 60)
    return pick([f"{n} items in cart", f"{n} new notifications", f"{n} results", f"共 {n} 件商品", f"Showing 1–20 of {R.randint(21, 900)}",
                 f"{n} of {n + R.randint(1, 40)} tests passed", f"retry {R.randint(1, 5)}/5", f"{n} visitors online",
                 f"Page {R.randint(1, 30)} of {R.randint(31, 60)}", f"{n} unread", f"已选 {n} 项"])


def tech_screen_size():
    w, h = pick([(1920, 1080), (1366, 768), (1440, 900), (2560, 1440), (390, 844), (412, 915), (1280, 720),
                 (3840, 2160), (375, 667), (1536, 864), (820, 1180)])
    return pick([f"{w}x{h}", f"viewport {w}x{h} @{R.randint(1, 3)}x", f"screen={w}×{h}", f"devicePixelRatio {R.randint(1, 3)}, {w}x{h}",
                 f"resolution {w} x {h}", f"window resized to {w}x{h}", f"{w}×{h}"])


def tech_semver():
    v = f"{R.randint(0, 19)}.{R.randint(0, 30)}.{R.randint(0, 25)}"
    lib = pick(["lodash", "react", "express", "axios", "@types/node", "vite", "typescript", "serde", "tokio", "requests"])
    return pick([f"^{v}", f"~{v}", f"{lib}@{v}", f"{lib}@^{v}", f">={v} <{R.randint(20, 30)}", f"\"{lib}\": \"^{v}\"",
                 f"{lib} = \"{v}\"", f"{lib}>={v},<{R.randint(20, 30)}", f"npm WARN deprecated {lib}@{v}",
                 f"peer dep {lib}@\"{pick(['^', '~', '>='])}{v}\" not satisfied"])


UI_LABELS_EN = ["Add to cart", "Sign up", "Log in", "Proceed to checkout", "Buy now", "Forgot password?", "Reset password",
                "Change password", "Email address", "Phone number", "Continue", "Cancel", "Save changes", "Apply coupon",
                "View order", "Subscribe", "Remove", "Back to home", "Search", "Settings", "Load more", "Accept cookies"]
UI_LABELS_ZH = ["加入购物车", "结账", "立即购买", "登录", "注册", "忘记密码？", "修改密码", "查看订单", "提交", "取消",
                "我的账户", "优惠券", "确认付款", "返回首页", "搜索", "设置", "手机号码", "加载更多"]


def tech_ui_label():
    label = pick(UI_LABELS_EN) if R.random() < 0.55 else pick(UI_LABELS_ZH)
    return pick(["{l}", "{l}", "button: {l}", "clicked \"{l}\"", "{l} ({n})", "cta_label={l}", "[{l}]",
                 "{l} > {m}"]).replace("{l}", label).replace("{n}", str(R.randint(1, 9))).replace(
        "{m}", pick(UI_LABELS_EN + UI_LABELS_ZH))


def iso_ts():
    t = rdate()
    return pick([t.strftime("%Y-%m-%dT%H:%M:%SZ"), t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
                 t.astimezone(timezone(timedelta(hours=1))).strftime("%Y-%m-%dT%H:%M:%S+01:00"), t.strftime("%Y-%m-%d")])


# Technical numbers from logs and error messages that look like personal data to a careless
# scrubber: long digit runs that are timestamps, identifiers, counters and sizes, and names with
# digits from the network-operator and device databases.

def epoch_value():
    """Unix time in seconds, milliseconds, microseconds or with a fraction, 2024 to 2027."""
    t = rdate().timestamp()
    return pick([str(int(t)), str(int(t)), str(int(t * 1000)), str(int(t * 1000)), str(int(t * 1_000_000)),
                 f"{t:.3f}", f"{t:.6f}", str(int(t * 1_000_000_000))])


def tech_epoch():
    e = epoch_value()
    return pick([
        "ts={e} level=info msg=\"request finished\"", "time={e} level=warn msg=\"slow upstream\"",
        "{{\"timestamp\": {e}, \"level\": \"error\", \"msg\": \"db timeout\"}}", "[{e}] worker {w} exited with status 1",
        "created_at: {e}", "{e} INFO cache warmed", "Expires: {e}", "\"iat\": {e}", "exp={e}",
        "last_seen={e}", "since={e}&until={e2}", "X-Request-Start: t={e}", "cron fired at {e}",
        "{{\"event\":\"click\",\"t\":{e}}}", "lastModified {e}", "session started {e}",
        "job {w} scheduled for {e}", "heartbeat {e} ok", "E{e} retry budget exhausted",
        "kafka offset commit at {e}", "lockfile written at {e}",
    ]).format(e=e, e2=epoch_value(), w=R.randint(1, 64))


ORDER_PREFIXES = ["ORD", "ORDER", "INV", "PO", "SO", "RE", "BN", "TKT", "CASE", "RMA", "SHP", "DO", "WO", "QT"]


def order_number():
    year = str(R.randint(2019, 2027))
    prefix = pick(ORDER_PREFIXES)
    seq = rand_str(string.digits, R.randint(5, 9))
    month = f"{R.randint(1, 12):02d}"
    return pick([f"{prefix}-{year}-{seq}", f"{prefix}-{year}{seq}", f"{prefix}{year}{seq}", f"{prefix}_{year}_{seq}",
                 f"{prefix}-{year}{month}-{seq}", f"{prefix}/{year}/{seq}", f"{prefix}-{year}-{month}-{seq}",
                 f"#{year}{seq}", f"{prefix}{year}{month}{seq}"])


def tech_order_number():
    o = order_number()
    return pick(["order {o} shipped", "Invoice {o} paid", "Order {o} confirmed", "refund for {o} issued",
                 "Bestellung {o} versendet", "Rechnung {o} bezahlt", "commande {o} expédiée", "订单 {o} 已发货",
                 "{o}", "payment captured for {o}", "\"order_ref\": \"{o}\"", "ticket {o} closed",
                 "webhook order.created {o}", "cannot cancel {o}: already fulfilled"]).replace("{o}", o)


def decimal_hex(n):
    """Hex digits that happen to be all decimal, as low addresses often are."""
    return rand_str(string.digits, n)


def tech_debugger_frame():
    a = pick(["0x7ff" + rand_hex(9), "0x00007f" + rand_hex(10), "0x0000" + decimal_hex(12), "0x" + decimal_hex(R.randint(8, 12)),
              "0x55" + rand_hex(10), "0x000000000040" + decimal_hex(4)])
    return pick([
        "#{n} {a} in main () at src/main.c:{l}", "#{n} {a} in __libc_start_main () from /lib64/libc.so.6",
        "Segmentation fault at address {a}", "==1==ERROR: AddressSanitizer: heap-use-after-free on address {a}",
        "frame #{n}: {a} app`main + {l}", "rip {a} rsp {b}", "<Order object at {a}>",
        "fault addr {a} in tid {t} (RenderThread)", "ptr={a} len={l}", "mmap returned {a}",
        "Exception code 0xc0000005 at {a}", "panic: runtime error at pc={a}",
    ]).format(n=R.randint(0, 12), a=a, b="0x" + decimal_hex(R.randint(8, 12)), l=R.randint(1, 900),
              t=R.randint(1000, 32000))


def tech_request_id():
    snow = str(R.randint(10**17, 9 * 10**18))
    return pick([
        f"request_id={rand_hex(32)}", f"X-Request-ID: {uuid.UUID(int=R.getrandbits(128), version=4)}",
        f"req_{rand_str(string.digits, R.randint(10, 16))} failed", f"x-request-id: {rand_str(string.digits, R.randint(9, 12))}",
        f"request {rand_str(string.digits, 8)}-{rand_str(string.digits, R.randint(9, 12))}-{rand_hex(4)} timed out",
        f"correlation_id={rand_str(ALNUM, 22)}", f"\"requestId\": \"{snow}\"", f"message_id: {snow}",
        f"job_id={R.randint(10**9, 10**12)} queued", f"task {rand_str(string.digits, 10)}-{rand_hex(6)} started",
        f"X-Amzn-RequestId: {uuid.UUID(int=R.getrandbits(128), version=4)}", f"cf-ray: {rand_hex(16)}-FRA",
    ])


def tech_build_number():
    return pick([
        f"build {R.randint(2019, 2027)}{R.randint(1, 12):02d}{R.randint(1, 28):02d}{R.randint(1, 99):02d}",
        f"Build #{R.randint(10**8, 10**10)} passed", f"app version {semver()} (build {R.randint(10**8, 10**10)})",
        f"build_number={R.randint(10**8, 10**10)}", f"CFBundleVersion {R.randint(2019, 2027)}.{R.randint(1, 12)}.{R.randint(10**6, 10**8)}",
        f"versionCode {R.randint(10**8, 2 * 10**9)}", f"pipeline {R.randint(10**8, 10**10)}-{rand_hex(8)} succeeded",
        f"revision {R.randint(10**8, 10**10)}", f"ci build.{R.randint(10**8, 10**10)}.tar.gz uploaded",
    ])


METRICS = ["http_requests_total", "process_cpu_seconds_total", "node_network_receive_bytes_total", "kafka_consumer_offset",
           "events_ingested_total", "db_rows_read_total", "cache_hits_total", "go_memstats_alloc_bytes"]


def tech_counter():
    n = str(R.randint(10**8, 10**13))
    return pick([
        f"{pick(METRICS)} {n}", f"{pick(METRICS)}{{job=\"api\",instance=\"web-{R.randint(1, 9)}\"}} {n}",
        f"processed {n} events", f"scanned {n} rows in {R.randint(1, 90)} s", f"count={n}", f"total: {n} requests",
        f"offset={n} partition={R.randint(0, 31)}", f"seq {n} acknowledged", f"{n} messages in queue",
        f"served {n} pageviews", f"counter wrapped after {n} ticks", f"\"hits\": {n}", f"lsn={n}", f"txid {n} committed",
    ])


def tech_byte_size():
    n = R.randint(10**8, 10**12)
    grouped = f"{n:,}"
    return pick([
        f"Content-Length: {n}", f"{n} bytes", f"copied {n} bytes in {R.randint(1, 90)}s", f"size={n}", f"file_size: {n}",
        f"{grouped} bytes", f"{grouped.replace(',', ' ')} octets", f"{grouped.replace(',', '.')} Bytes",
        f"heap_size={n}", f"rss {n} B", f"max_memory {n}", f"disk free {n} bytes", f"bytes_sent={n}",
        f"\"length\": {n}", f"upload of {n} B rejected: quota {R.randint(10**8, 10**12)} B",
    ])


def tech_trace_id():
    return pick([
        f"traceparent: 00-{rand_hex(32)}-{rand_hex(16)}-01", f"trace_id={rand_hex(32)} span_id={rand_hex(16)}",
        f"dd.trace_id={R.randint(10**17, 9 * 10**18)} dd.span_id={R.randint(10**17, 9 * 10**18)}",
        f"X-B3-TraceId: {rand_hex(16)}", f"X-Amzn-Trace-Id: Root=1-{rand_hex(8)}-{rand_hex(24)}",
        f"uber-trace-id: {rand_hex(16)}:{rand_hex(16)}:0:1", f"sentry-trace: {rand_hex(32)}-{rand_hex(16)}-1",
        f"\"traceId\": \"{R.randint(10**17, 9 * 10**18)}\"",
    ])


def operator_name():
    d = lambda n: rand_str(string.digits, n)
    word = pick(["NET", "TEL", "LINK", "WAVE", "FIBER", "COM", "WEB", "AIR", "HOST", "CLOUD", "DATA", "BAND"])
    return pick([
        f"{R.randint(2, 9)}G{word} INTERNET", f"{word}{R.randint(1, 99)} TELECOM", f"{R.randint(1, 99)}{word} S.A.",
        f"{pick(['ST', 'M', 'G', 'H', 'A', 'K'])}{R.randint(1, 9)} INTERNET", f"AS{d(R.randint(4, 6))} - {word} {pick(['LTDA', 'SRL', 'LLC'])}",
        f"{pick(['Comms', 'Net', 'Host', 'Data'])}{d(3)} Limited", f"{R.randint(2, 9)}{pick(['C', 'W', 'K'])}{R.randint(1, 9)}B Telekomunikasyon",
        f"{R.randint(11, 99)}{pick(['VIANET', 'SYSTEMS', 'NETWORKS'])}", f"LINK{R.randint(1, 9)} COMMUNICATION",
        f"G{R.randint(1, 9)}G NETWORKS", f"{word.title()} {R.randint(3, 5)}G", f"A{R.randint(1, 3)} Telekom Austria AG",
        f"{d(1)}{pick(['CRSI', 'WACCES', 'GNET', 'IXNET'])} {pick(['Corporation', 'ME', 'SAS', 'INTERNET'])}",
    ])


def tech_operator():
    o = operator_name()
    return pick(["isp {o}", "network operator: {o}", "carrier={o}", "ASN {a} ({o})", "org: {o}", "{o}",
                 "Anbieter {o}", "运营商 {o}", "top network {o}, {p}%"]).replace("{o}", o).replace(
        "{a}", str(R.randint(1000, 399999))).replace("{p}", str(R.randint(1, 60)))


def device_model():
    return pick([
        f"SM-{pick('AGSNMFT')}{R.randint(100, 999)}{pick(['F', 'B', 'U', 'N', 'FN', 'W', 'U1', 'B/DS'])}",
        f"CPH{R.randint(1800, 2699)}", f"Redmi Note {R.randint(7, 13)}{pick(['', ' Pro', ' Pro+', 'S'])}",
        f"Pixel {R.randint(3, 9)}{pick(['', 'a', ' Pro', ' XL'])}", f"{R.randint(2101, 2312)}{d3()}{pick(['G', 'TG', 'C', 'I', 'SG'])}",
        f"M{R.randint(2001, 2012)}J{R.randint(1, 22)}{pick(['G', 'SG', 'C'])}", f"RMX{R.randint(1800, 3899)}",
        f"V{R.randint(2000, 2399)}", f"moto g{R.randint(10, 84)}{pick(['', ' power', ' 5G'])}", f"XQ-{pick(['AT', 'BC', 'DQ'])}{R.randint(50, 72)}",
        f"LM-{pick('GKQV')}{R.randint(100, 999)}", f"ELS-NX{R.randint(1, 9)}", f"iPhone{R.randint(10, 16)},{R.randint(1, 8)}",
    ])


def d3():
    return rand_str(string.digits, 3)


def tech_device_model():
    m = device_model()
    if R.random() < 0.3:
        return "user_agent_label", m
    return pick([
        "Mozilla/5.0 (Linux; Android {a}; {m}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android {a}; {m} Build/{b}) AppleWebKit/537.36", "Dalvik/2.1.0 (Linux; U; Android {a}; {m} Build/{b})",
        "device: {m}", "model={m}", "crash on {m} (Android {a})", "Samsung {m}", "top device model {m}",
        "\"device_model\": \"{m}\"",
    ]).format(m=m, a=R.randint(9, 15), c=R.randint(110, 133),
              b=pick(["TP1A", "UP1A", "RP1A", "SP1A", "QP1A"]) + f".{R.randint(200000, 240000)}.{R.randint(1, 30):03d}")


# URL paths (field "url") for some technical shapes, used for about a quarter of their samples.
TECHNICAL_URLS = {
    "uuid": lambda: pick(["/api/v1/orders/{u}", "/track/{u}?step=2", "/s/{u}", "/api/v1/carts/{u}/items"]).replace("{u}", rand_uuid()),
    "git_hash": lambda: pick([f"/static/js/app.{rand_hex(8)}.js", f"/commit/{rand_hex(40)}",
                              f"/compare/{rand_hex(7)}...{rand_hex(7)}", f"/assets/index-{rand_hex(8)}.css?v={rand_hex(7)}"]),
    "sha256": lambda: f"/v2/library/{pick(['nginx', 'postgres', 'redis', 'node'])}/{pick(['manifests', 'blobs'])}/sha256:{rand_hex(64)}",
    "timestamp": lambda: pick(["/api/v1/events?since={t}&limit=100", "/reports/daily?from={t}&to={t2}",
                               "/api/v1/stats?period=day&date={t}"]).replace("{t}", quote(iso_ts(), safe="")).replace(
        "{t2}", quote(iso_ts(), safe="")),
    "version": lambda: pick([f"/download/v{semver()}/obscura-linux-x86_64.tar.gz", f"/docs/{semver()}/changelog",
                             f"/api/v1/releases/{semver()}"]),
    "semver": lambda: f"/npm/{pick(['lodash', 'react', 'vue', 'axios', 'dayjs'])}@{semver()}/{pick(['dist/index.min.js', 'package.json', 'lodash.min.js'])}",
    "screen_size": lambda: "/img/hero.jpg?w={w}&h={h}&dpr={d}".replace("{w}", str(R.randint(320, 3840))).replace(
        "{h}", str(R.randint(240, 2160))).replace("{d}", str(R.randint(1, 3))),
    "ui_label": lambda: pick(["/search?q=", "/help?topic=", "/events/click?label="]) + enc_form(pick(UI_LABELS_EN + UI_LABELS_ZH)),
    "price": lambda: f"/products?min_price={R.randint(0, 50)}&max_price={R.randint(51, 3000)}.99&currency={pick(['EUR', 'USD', 'GBP', 'CNY'])}",
    "percent": lambda: f"/sale?discount={R.randint(5, 70)}%25&sort={pick(['price_asc', 'newest', 'popular'])}",
    "count": lambda: f"/search?q={pick(['shoes', 'jacket', 'lamp', 'mug'])}&page={R.randint(1, 40)}&per_page={pick([10, 20, 50])}",
    "sku": lambda: pick([f"/products/{sku()}", f"/cart/add?sku={sku()}&qty={R.randint(1, 5)}"]),
    "url": url_path_query,
    "epoch": lambda: pick(["/api/poll?_={e}", "/api/v1/events?since={e}", "/static/app.js?v={e}"]).replace(
        "{e}", str(int(rdate().timestamp() * pick([1, 1000])))),
    "order_number": lambda: pick(["/account/orders/{o}", "/invoices/{o}.pdf", "/track?order={o}"]).replace(
        "{o}", quote(order_number(), safe="")),
}


TECHNICAL_TYPES = [
    ("stack_python", tech_stack_python), ("stack_js", tech_stack_js), ("stack_java", tech_stack_java),
    ("stack_rust", tech_stack_rust), ("stack_go", tech_stack_go), ("url", tech_url), ("uuid", tech_uuid),
    ("version", tech_version), ("timestamp", tech_timestamp), ("git_hash", tech_git_hash), ("sha256", tech_sha256),
    ("mem_addr", tech_mem_addr), ("http_line", tech_http_line), ("sql", tech_sql), ("file_path", tech_file_path),
    ("css", tech_css), ("duration_size", tech_duration_size), ("localhost", tech_localhost),
    ("error_code", tech_error_code), ("sku", tech_sku), ("price", tech_price), ("percent", tech_percent),
    ("count", tech_count), ("screen_size", tech_screen_size), ("semver", tech_semver), ("ui_label", tech_ui_label),
    ("epoch", tech_epoch), ("order_number", tech_order_number), ("debugger_frame", tech_debugger_frame),
    ("request_id", tech_request_id), ("build_number", tech_build_number), ("counter", tech_counter),
    ("byte_size", tech_byte_size), ("trace_id", tech_trace_id), ("operator", tech_operator),
    ("device_model", tech_device_model),
]


# ---------------------------------------------------------------------------------------------
# Assembly and self-checks
# ---------------------------------------------------------------------------------------------

def pii_ok(field, text, secrets, spans):
    if not text or len(text) > MAX_LEN or has_control(text) or not secrets:
        return False
    if field == "url" and not (text.startswith("/") and text.isascii() and " " not in text):
        return False
    forms = decodings(text)
    rest = text
    for s in sorted(spans, key=len, reverse=True):
        rest = rest.replace(s, "\ue000")
    rest_forms = decodings(rest)
    for s in secrets:
        if len(s) < 4 or has_control(s):
            return False
        if not any(s in f for f in forms):          # must be derivable from the text
            return False
        if any(s in f for f in rest_forms):         # must live only inside the personal value
            return False
    return True


def build():
    rows, seen = [], set()
    for typ, locales, gen, url_share in PII_TYPES:
        count = SECRET_KV_COUNT if typ == "secret_kv" else PER_LOCALE
        n_url = round(count * url_share)
        for loc in locales:
            for n in range(1, count + 1):
                field = "url" if n > count - n_url else "text"
                for _ in range(200):
                    try:
                        text, secrets, spans = gen(loc, field)
                    except Retry:
                        continue
                    secrets = list(dict.fromkeys(secrets))
                    if text not in seen and pii_ok(field, text, secrets, spans):
                        break
                else:
                    raise SystemExit(f"could not generate {typ}/{loc}/{field}")
                seen.add(text)
                rows.append({"id": f"{typ}-{loc}-{n}", "kind": "pii", "type": typ, "locale": loc,
                             "field": field, "text": text, "secrets": secrets})
    per_type = round(TECHNICAL_TOTAL / len(TECHNICAL_TYPES))
    for typ, gen in TECHNICAL_TYPES:
        n = 0
        misses = 0
        while n < per_type:
            if typ in TECHNICAL_URLS and R.random() < 0.25:
                field, text = "url", TECHNICAL_URLS[typ]()
            else:
                out = gen()
                field, text = out if isinstance(out, tuple) else ("text", out)
            if field == "url" and not (text.startswith("/") and text.isascii() and " " not in text):
                raise SystemExit(f"bad technical url {text!r}")
            if text in seen or len(text) > MAX_LEN or has_control(text):
                misses += 1
                if misses > 5000:
                    raise SystemExit(f"technical type {typ} has too little variety")
                continue
            seen.add(text)
            n += 1
            rows.append({"id": f"{typ}---{n}", "kind": "technical", "type": typ, "locale": "-",
                         "field": field, "text": text, "secrets": []})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="JSON Lines file to write")
    args = ap.parse_args()
    rows = build()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)
    kinds = Counter(r["kind"] for r in rows)
    types = Counter((r["kind"], r["type"]) for r in rows)
    print(f"{args.out}: {len(rows)} lines ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})", file=sys.stderr)
    for kind in ("pii", "technical"):
        print(f"  {kind}: " + ", ".join(f"{t} {c}" for (k, t), c in types.items() if k == kind), file=sys.stderr)


if __name__ == "__main__":
    main()
