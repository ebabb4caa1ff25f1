//! A scripted Eden answering pulls of `org_organisation` from data, as a
//! live Eden does (PROTOCOL.md §2.5 "Windowed pulls", vectors `15_*`):
//! `msince` (`>=`, strict format) on the masters only, `[~]~.modified_on`
//! windows on every record of the table (masters and same-table
//! dependencies alike), so a reference to an organisation outside the
//! window is left out; offices and branch links nested in their master;
//! deleted stubs; masters newest first with `msince`, in id order without;
//! root `results` = masters in the answer.

use std::collections::BTreeSet;

use chrono::{NaiveDateTime, TimeDelta};

pub struct Org {
    pub uuid: String,
    pub name: String,
    pub modified_on: NaiveDateTime,
    pub deleted: bool,
    /// The organisation this one is a branch of (an index).
    pub root: Option<usize>,
    /// An office nested in it: (uuid, modified_on).
    pub office: Option<(String, NaiveDateTime)>,
}

pub struct EdenTable {
    pub orgs: Vec<Org>,
    /// A peer whose sync filters do not apply (answers as if unwindowed).
    pub honours_windows: bool,
}

/// A time condition on `modified_on`.
#[derive(Clone, Copy)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl EdenTable {
    /// `n` organisations modified over the `days` before `end`, one every
    /// few minutes with a few sharing a second; every 9th deleted, every
    /// 5th with an office modified after it, every 11th a branch of an
    /// organisation modified later (so windows leave its reference out).
    pub fn generated(n: usize, end: NaiveDateTime, days: i64) -> EdenTable {
        let span = days * 86_400;
        let step = (span / n as i64).max(1);
        let start = end - TimeDelta::seconds(span);
        let mut orgs: Vec<Org> = (0..n)
            .map(|i| {
                // Pairs share their second: a window boundary falls on
                // records that must come exactly once.
                let second = (i as i64 / 2) * 2 * step;
                let modified_on = start + TimeDelta::seconds(second);
                Org {
                    uuid: format!("urn:uuid:eden-window-{i:05}"),
                    name: format!("Window organisation {i}"),
                    modified_on,
                    deleted: i % 9 == 4,
                    root: None,
                    office: (i % 5 == 0).then(|| {
                        (
                            format!("urn:uuid:eden-window-office-{i:05}"),
                            modified_on + TimeDelta::seconds(step * 7),
                        )
                    }),
                }
            })
            .collect();
        for i in (0..n).filter(|i| i % 11 == 3) {
            let root = (i + n / 3).min(n - 1);
            if root != i && !orgs[root].deleted && !orgs[i].deleted {
                orgs[i].root = Some(root);
            }
        }
        EdenTable {
            orgs,
            honours_windows: true,
        }
    }

    /// The answer to `GET sync.xml?<query>` (raw, percent-encoded).
    pub fn answer(&self, query: &str, url: &str) -> String {
        let mut msince = None;
        let mut window: Vec<(Op, NaiveDateTime)> = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            let op = match key {
                "msince" => {
                    // Eden's strict parse: anything but the plain form is
                    // ignored.
                    msince = NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S").ok();
                    continue;
                }
                "[~]~.modified_on__lt" => Op::Lt,
                "[~]~.modified_on__le" => Op::Le,
                "[~]~.modified_on__gt" => Op::Gt,
                "[~]~.modified_on__ge" => Op::Ge,
                _ => continue,
            };
            let time = value.trim_end_matches('Z').replace('T', " ");
            let time = NaiveDateTime::parse_from_str(&time, "%Y-%m-%d %H:%M:%S")
                .expect("the stand-in reads the window values it is sent");
            if self.honours_windows {
                window.push((op, time));
            }
        }
        let in_window = |org: &Org| {
            window.iter().all(|(op, t)| match op {
                Op::Lt => org.modified_on < *t,
                Op::Le => org.modified_on <= *t,
                Op::Gt => org.modified_on > *t,
                Op::Ge => org.modified_on >= *t,
            })
        };
        let mut masters: Vec<usize> = (0..self.orgs.len())
            .filter(|&i| {
                let org = &self.orgs[i];
                msince.is_none_or(|m| org.modified_on >= m) && in_window(org)
            })
            .collect();
        if msince.is_some() {
            masters.sort_by_key(|&i| std::cmp::Reverse(self.orgs[i].modified_on));
        }
        // Referenced organisations not among the masters come after them,
        // if the window lets them be loaded.
        let listed: BTreeSet<usize> = masters.iter().copied().collect();
        let mut dependencies = BTreeSet::new();
        for &i in masters.iter().filter(|&&i| !self.orgs[i].deleted) {
            for j in self.references_of(i) {
                if !listed.contains(&j) && in_window(&self.orgs[j]) {
                    dependencies.insert(j);
                }
            }
        }
        let mut body = String::new();
        for &i in masters.iter().chain(dependencies.iter()) {
            self.render(i, &in_window, url, &mut body);
        }
        let success = if masters.is_empty() { "false" } else { "true" };
        let head = format!(
            r#"<s3xml success="{success}" results="{}" domain="vm" url="{url}""#,
            masters.len()
        );
        if body.is_empty() {
            format!("<?xml version='1.0' encoding='utf-8'?>\n{head}/>")
        } else {
            format!("<?xml version='1.0' encoding='utf-8'?>\n{head}>{body}</s3xml>")
        }
    }

    /// The organisations `i` refers to: its root, and its branches (through
    /// the branch links nested in it).
    fn references_of(&self, i: usize) -> Vec<usize> {
        let mut refs: Vec<usize> = self.orgs[i].root.into_iter().collect();
        refs.extend(self.branches_of(i));
        refs
    }

    fn branches_of(&self, i: usize) -> Vec<usize> {
        (0..self.orgs.len())
            .filter(|&j| self.orgs[j].root == Some(i))
            .collect()
    }

    fn render(&self, i: usize, in_window: &dyn Fn(&Org) -> bool, url: &str, out: &mut String) {
        let org = &self.orgs[i];
        let time = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        if org.deleted {
            out.push_str(&format!(
                r#"<resource name="org_organisation" uuid="{}" deleted="True" modified_on="{}"/>"#,
                org.uuid,
                time(org.modified_on)
            ));
            return;
        }
        out.push_str(&format!(
            r#"<resource name="org_organisation" uuid="{}" mci="1" created_on="{}" modified_on="{}" url="{url}/org/organisation/{}"><data field="name">{}</data>"#,
            org.uuid,
            time(org.modified_on),
            time(org.modified_on),
            i + 1,
            org.name
        ));
        // The root: itself, or another organisation, which must be in the
        // window for the reference to be written.
        let root = org.root.unwrap_or(i);
        if in_window(&self.orgs[root]) {
            out.push_str(&format!(
                r#"<reference field="root_organisation" resource="org_organisation" uuid="{}">{}</reference>"#,
                self.orgs[root].uuid, self.orgs[root].name
            ));
        }
        for j in self.branches_of(i) {
            out.push_str(&format!(
                r#"<resource name="org_organisation_branch" alias="branch" uuid="urn:uuid:eden-window-branch-{j:05}" mci="1" modified_on="{}">"#,
                time(org.modified_on)
            ));
            if in_window(&self.orgs[j]) {
                out.push_str(&format!(
                    r#"<reference field="branch_id" resource="org_organisation" uuid="{}">{}</reference>"#,
                    self.orgs[j].uuid, self.orgs[j].name
                ));
            }
            out.push_str("</resource>");
        }
        if let Some((uuid, modified_on)) = &org.office {
            out.push_str(&format!(
                r#"<resource name="org_office" uuid="{uuid}" mci="1" modified_on="{}"><data field="name">Office of {}</data></resource>"#,
                time(*modified_on),
                org.name
            ));
        }
        out.push_str("</resource>");
    }
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
