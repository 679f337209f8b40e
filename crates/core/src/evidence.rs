//! The evidence base: sources, questionnaires, rules and defaults.
//!
//! Everything here is data, embedded from `crates/core/evidence/*.toml` at
//! compile time and validated when it is first loaded. The tests load it on
//! every run, so a rule that cites a missing source, a source nobody cites, or
//! a rule that asks about a question that does not exist fails the build's
//! tests, not a user's session.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use jiff::{SignedDuration, Span, SpanRelativeTo};
use serde::{Deserialize, Serialize};

use crate::zone::Zone;

const SOURCES: &str = include_str!("../evidence/sources.toml");
const SCREENING: &str = include_str!("../evidence/screening.toml");
const READINESS: &str = include_str!("../evidence/readiness.toml");
const CHECKIN: &str = include_str!("../evidence/checkin.toml");
const DEFAULTS: &str = include_str!("../evidence/defaults.toml");

/// How directly needlewise's authors read a claim in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// Read in the primary document or a faithful copy.
    V,
    /// Seen only through a secondary restatement.
    S,
    /// From background knowledge of the paper, not re-verified.
    K,
    /// A low-grade source (clinic, vendor or blog page): common practice only.
    L,
}

impl Grade {
    pub fn describe(self) -> &'static str {
        match self {
            Grade::V => "read in the primary source",
            Grade::S => "seen in a secondary source",
            Grade::K => "from background knowledge, not re-verified",
            Grade::L => "common practice (clinic or vendor pages)",
        }
    }
}

/// What a source is, which bounds the grade a claim resting on it can have.
///
/// The grades (V, S, K, L) say how directly needlewise's authors read a
/// claim; a source's kind says what the source itself is. A source of a
/// *lower kind* than a grade is one whose [`ceiling`](SourceKind::ceiling)
/// is below that grade: a secondary restatement cannot carry a V, and a
/// clinic, spa or vendor page carries nothing above L. `problems()` reports
/// a rule or default graded V whose sources are all of a lower kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The document itself or a faithful copy: a paper or its abstract, a
    /// review, a guideline, a regulator's or public-health agency's text,
    /// a device's instructions for use.
    Primary,
    /// The protocol a person's own facial plastic surgeon prescribed,
    /// read from the record itself.
    Prescription,
    /// Another document restated: a provider page reproducing a label, a
    /// summary, a chapter reporting what a regulator did.
    Secondary,
    /// Common practice: clinic, spa, vendor or blog pages.
    Practice,
}

impl SourceKind {
    /// The highest grade a claim can have when it rests on this kind alone.
    pub fn ceiling(self) -> Grade {
        match self {
            SourceKind::Primary | SourceKind::Prescription => Grade::V,
            SourceKind::Secondary => Grade::S,
            SourceKind::Practice => Grade::L,
        }
    }
}

/// One entry of the reference list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub kind: SourceKind,
    pub citation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Which questionnaire a question or rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionnaireKind {
    Screening,
    Readiness,
    Checkin,
}

impl QuestionnaireKind {
    pub fn id(self) -> &'static str {
        match self {
            QuestionnaireKind::Screening => "screening",
            QuestionnaireKind::Readiness => "readiness",
            QuestionnaireKind::Checkin => "checkin",
        }
    }

    /// The outcomes a rule of this questionnaire may have.
    pub fn allows(self, outcome: Outcome) -> bool {
        use Outcome::*;
        match self {
            QuestionnaireKind::Screening => matches!(
                outcome,
                Precaution | ExcludeZones | AskSurgeonFirst | NotAtHome
            ),
            QuestionnaireKind::Readiness => matches!(outcome, Caution | SkipZones | NoGo),
            QuestionnaireKind::Checkin => matches!(outcome, Watch | ContactSurgeon | UrgentCare),
        }
    }
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    // Screening.
    Precaution,
    ExcludeZones,
    AskSurgeonFirst,
    NotAtHome,
    // Readiness.
    Caution,
    SkipZones,
    NoGo,
    // Check-ins.
    Watch,
    ContactSurgeon,
    UrgentCare,
}

impl Outcome {
    /// A hard stop: the person cannot go ahead at home because of this rule.
    pub fn is_hard_stop(self) -> bool {
        matches!(
            self,
            Outcome::NotAtHome | Outcome::NoGo | Outcome::UrgentCare
        )
    }

    /// Whether the rule acts on the zones its condition matched.
    pub fn acts_on_zones(self) -> bool {
        matches!(self, Outcome::ExcludeZones | Outcome::SkipZones)
    }
}

/// The shape of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuestionKind {
    Bool,
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    Choice {
        options: Vec<String>,
    },
    /// `"never"`, `"current"` or the date of the last exposure.
    Exposure,
    /// A list of zone ids.
    Zones,
    /// A list of `{kind, date, zones}`.
    Procedures,
    Date,
}

impl QuestionKind {
    pub fn describe(&self) -> String {
        match self {
            QuestionKind::Bool => "true or false".into(),
            QuestionKind::Integer { min, max } => format!("a whole number from {min} to {max}"),
            QuestionKind::Number { min, max } => format!("a number from {min} to {max}"),
            QuestionKind::Choice { options } => format!("one of {}", options.join(", ")),
            QuestionKind::Exposure => "\"never\", \"current\" or a date YYYY-MM-DD".into(),
            QuestionKind::Zones => "a list of zone ids".into(),
            QuestionKind::Procedures => {
                "a list of {kind, date, zones} with kind one of surgery, filler, botox, peel, laser, waxing".into()
            }
            QuestionKind::Date => "a date YYYY-MM-DD".into(),
        }
    }
}

/// One question of a questionnaire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    #[serde(flatten)]
    pub kind: QuestionKind,
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Asked only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_when: Option<Condition>,
    /// Filled in by needlewise from what it knows, never asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fact: bool,
    /// What the question is about ("Your skin"): a questionnaire with
    /// topics is asked a topic at a time (see [`Questionnaire::steps`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// One screen of a questionnaire asked a topic at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Step<'a> {
    pub topic: &'a str,
    /// In the questionnaire's order.
    pub questions: Vec<&'a Question>,
}

/// A calendar wait such as `P6M` or `P4W`, added to dates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Wait(pub Span);

impl Wait {
    /// The first day after the wait that starts on `from`.
    pub fn after(self, from: jiff::civil::Date) -> Option<jiff::civil::Date> {
        from.checked_add(self.0).ok()
    }

    /// The moment the wait that starts at `from` ends, in elapsed time:
    /// days count as 24 hours and weeks as 7 days, whatever the time zone
    /// (a wait never shrinks across a daylight-saving change or a move).
    /// Waits in months or years are counted from `from` in UTC.
    pub fn after_instant(self, from: jiff::Timestamp) -> Option<jiff::Timestamp> {
        match self.0.to_duration(SpanRelativeTo::days_are_24_hours()) {
            Ok(d) => from.checked_add(d).ok(),
            Err(_) => from
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .checked_add(self.0)
                .ok()
                .map(|z| z.timestamp()),
        }
    }
}

impl PartialEq for Wait {
    fn eq(&self, other: &Self) -> bool {
        self.0.fieldwise() == other.0.fieldwise()
    }
}

impl TryFrom<String> for Wait {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let span: Span = text
            .parse()
            .map_err(|e| format!("invalid duration {text:?}: {e}"))?;
        if span.is_negative() {
            return Err(format!("duration {text:?} must not be negative"));
        }
        Ok(Wait(span))
    }
}

impl From<Wait> for String {
    fn from(w: Wait) -> String {
        w.0.to_string()
    }
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

/// A procedure that has a wait before microneedling the same area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcedureKind {
    Surgery,
    Filler,
    Botox,
    Peel,
    Laser,
    Waxing,
}

impl ProcedureKind {
    pub const ALL: [ProcedureKind; 6] = [
        ProcedureKind::Surgery,
        ProcedureKind::Filler,
        ProcedureKind::Botox,
        ProcedureKind::Peel,
        ProcedureKind::Laser,
        ProcedureKind::Waxing,
    ];
}

/// When a rule fires or a question applies. Conditions name questions; a
/// test checks that every name exists and suits the condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    IsTrue {
        question: String,
    },
    Equals {
        question: String,
        value: String,
    },
    OneOf {
        question: String,
        values: Vec<String>,
    },
    Lt {
        question: String,
        value: f64,
    },
    Le {
        question: String,
        value: f64,
    },
    Gt {
        question: String,
        value: f64,
    },
    Ge {
        question: String,
        value: f64,
    },
    /// Current, or the last exposure ended less than `wait` ago.
    ExposureWithin {
        question: String,
        wait: Wait,
    },
    /// A procedure of `kind` less than `wait` ago in a planned zone.
    ProcedureWithin {
        question: String,
        kind: ProcedureKind,
        wait: Wait,
    },
    /// The zones answered include one of these.
    ZonesIntersect {
        question: String,
        zones: Vec<Zone>,
    },
    /// Any zone is listed (and planned, where the questionnaire plans zones).
    ListedZones {
        question: String,
    },
    /// The date answered is after today.
    DateAfterToday {
        question: String,
    },
    /// The date answered is today or later (its `until` is that date): for
    /// a wait that ends at a moment later today.
    DateFromToday {
        question: String,
    },
    /// The date answered is before today plus `wait` (a date already past
    /// counts): a planned treatment that starts within the wait.
    DateWithin {
        question: String,
        wait: Wait,
    },
    /// The date answered is today plus `wait` or later; its `until` is the
    /// last day before the date comes within the wait.
    DateBeyond {
        question: String,
        wait: Wait,
    },
    All {
        of: Vec<Condition>,
    },
    Any {
        of: Vec<Condition>,
    },
    Not {
        of: Box<Condition>,
    },
}

impl Condition {
    /// Every question this condition reads, with the kinds it accepts.
    pub fn visit_questions<'a>(&'a self, out: &mut Vec<(&'a str, &'static [&'static str])>) {
        use Condition::*;
        match self {
            IsTrue { question } => out.push((question, &["bool"])),
            Equals { question, .. } | OneOf { question, .. } => out.push((question, &["choice"])),
            Lt { question, .. }
            | Le { question, .. }
            | Gt { question, .. }
            | Ge { question, .. } => out.push((question, &["integer", "number"])),
            ExposureWithin { question, .. } => out.push((question, &["exposure"])),
            ProcedureWithin { question, .. } => out.push((question, &["procedures"])),
            ZonesIntersect { question, .. } | ListedZones { question } => {
                out.push((question, &["zones"]))
            }
            DateAfterToday { question }
            | DateFromToday { question }
            | DateWithin { question, .. }
            | DateBeyond { question, .. } => out.push((question, &["date"])),
            All { of } | Any { of } => of.iter().for_each(|c| c.visit_questions(out)),
            Not { of } => of.visit_questions(out),
        }
    }
}

/// A safety rule: when it fires, what it means and where that comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub outcome: Outcome,
    pub grade: Grade,
    pub sources: Vec<String>,
    pub when: Condition,
    pub explanation: String,
    /// The `defaults.toml` values the explanation relies on, by name (see
    /// [`Defaults::amounts`]); a number the explanation states must agree
    /// with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults: Vec<String>,
    /// Why a hard stop stands on low-grade evidence, where it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Whether a clinician may set this conservative home rule aside for
    /// one patient, and on what evidence. Rules without it cannot be
    /// overridden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinician_override: Option<Cited>,
}

/// A questionnaire and its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Questionnaire {
    pub questionnaire: QuestionnaireKind,
    /// The question that holds the zones to be treated, if any.
    #[serde(default)]
    pub planned_zones: Option<String>,
    #[serde(rename(deserialize = "question"))]
    pub questions: Vec<Question>,
    #[serde(rename(deserialize = "rule"))]
    pub rules: Vec<Rule>,
}

impl Questionnaire {
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The questions asked, by topic: the topics in the order of their
    /// first question, each with its questions in the questionnaire's
    /// order. Facts and questions without a topic are in no step, so a
    /// questionnaire without topics has none.
    pub fn steps(&self) -> Vec<Step<'_>> {
        let mut steps: Vec<Step<'_>> = Vec::new();
        for question in self.questions.iter().filter(|q| !q.fact) {
            let Some(topic) = question.topic.as_deref() else {
                continue;
            };
            match steps.iter_mut().find(|s| s.topic == topic) {
                Some(step) => step.questions.push(question),
                None => steps.push(Step {
                    topic,
                    questions: vec![question],
                }),
            }
        }
        steps
    }

    /// The questionnaire as far as step `n` (counted from 0): the
    /// questions of that step and the ones before, facts kept, no rules.
    /// Its answers parse and are complete exactly when those steps are
    /// answered, since no question depends on a later step (see
    /// [`EvidenceBase::problems`]).
    pub fn through_step(&self, n: usize) -> Questionnaire {
        let asked: Vec<&str> = self
            .steps()
            .into_iter()
            .take(n + 1)
            .flat_map(|s| s.questions)
            .map(|q| q.id.as_str())
            .collect();
        Questionnaire {
            questionnaire: self.questionnaire,
            planned_zones: self
                .planned_zones
                .clone()
                .filter(|z| asked.contains(&z.as_str())),
            questions: self
                .questions
                .iter()
                .filter(|q| q.fact || asked.contains(&q.id.as_str()))
                .cloned()
                .collect(),
            rules: Vec::new(),
        }
    }
}

/// Where a default comes from, shared by every default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cited {
    pub grade: Grade,
    pub sources: Vec<String>,
    pub explanation: String,
}

/// A duration against the clock (hours, minutes), with days taken as 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockDuration(pub SignedDuration);

impl TryFrom<String> for ClockDuration {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let span: Span = text
            .parse()
            .map_err(|e| format!("invalid duration {text:?}: {e}"))?;
        let d = span
            .to_duration(SpanRelativeTo::days_are_24_hours())
            .map_err(|e| format!("duration {text:?} must not use months or years: {e}"))?;
        if d.is_negative() {
            return Err(format!("duration {text:?} must not be negative"));
        }
        Ok(ClockDuration(d))
    }
}

impl From<ClockDuration> for String {
    fn from(d: ClockDuration) -> String {
        format!("{:#}", d.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakDefault {
    pub minimum: ClockDuration,
    pub min_alcohol_percent: u8,
    /// Stronger alcohol disinfects less well (it works best at 60-90%).
    pub max_alcohol_percent: u8,
    #[serde(flatten)]
    pub cited: Cited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryDefault {
    pub minimum: ClockDuration,
    #[serde(flatten)]
    pub cited: Cited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplaceDefault {
    pub max_uses: u32,
    #[serde(flatten)]
    pub cited: Cited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HygieneDefaults {
    pub soak: SoakDefault,
    pub dry: DryDefault,
    pub replace: ReplaceDefault,
    pub share: Cited,
}

/// The earliest next session for needles up to `max_mm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalBand {
    pub max_mm: f64,
    pub wait: Wait,
    #[serde(flatten)]
    pub cited: Cited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseDefault {
    pub sessions: u32,
    pub wait: Wait,
    pub review_after: Wait,
    #[serde(flatten)]
    pub cited: Cited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckinDefaults {
    pub after: Vec<ClockDuration>,
    #[serde(flatten)]
    pub cited: Cited,
}

/// How long a readiness check's go holds for a home session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadinessCheckDefault {
    /// A home session must start within this long after the check.
    pub valid_for: ClockDuration,
    #[serde(flatten)]
    pub cited: Cited,
}

/// One aftercare restriction and how long it lasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AftercareItem {
    pub id: String,
    pub title: String,
    pub avoid: String,
    pub duration: ClockDuration,
    #[serde(flatten)]
    pub cited: Cited,
}

/// A class of ingredients for the serum gate, and how long after a session
/// it must stay off the skin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngredientClass {
    pub class: String,
    pub title: String,
    pub allowed_after: ClockDuration,
    /// Exact ingredient names (INCI names and synonyms), lower case.
    pub names: Vec<String>,
    /// Parts of names that place an ingredient in this class wherever they
    /// appear; only for classes that wait longer than the first 24 hours.
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(flatten)]
    pub cited: Cited,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub hygiene: HygieneDefaults,
    #[serde(rename(deserialize = "interval"))]
    pub intervals: Vec<IntervalBand>,
    pub course: CourseDefault,
    pub checkins: CheckinDefaults,
    pub readiness_check: ReadinessCheckDefault,
    #[serde(rename(deserialize = "aftercare"))]
    pub aftercare: Vec<AftercareItem>,
    #[serde(rename(deserialize = "ingredient"))]
    pub ingredients: Vec<IngredientClass>,
}

impl Defaults {
    /// Every citation block among the defaults, named for error messages.
    pub fn cited(&self) -> Vec<(String, &Cited)> {
        let mut out = vec![
            ("hygiene.soak".to_owned(), &self.hygiene.soak.cited),
            ("hygiene.dry".to_owned(), &self.hygiene.dry.cited),
            ("hygiene.replace".to_owned(), &self.hygiene.replace.cited),
            ("hygiene.share".to_owned(), &self.hygiene.share),
            ("course".to_owned(), &self.course.cited),
            ("checkins".to_owned(), &self.checkins.cited),
            ("readiness_check".to_owned(), &self.readiness_check.cited),
        ];
        for band in &self.intervals {
            out.push((format!("interval<={}mm", band.max_mm), &band.cited));
        }
        for item in &self.aftercare {
            out.push((format!("aftercare.{}", item.id), &item.cited));
        }
        for class in &self.ingredients {
            out.push((format!("ingredient.{}", class.class), &class.cited));
        }
        out
    }
}

impl Defaults {
    /// Every single number among the defaults, named `<block>.<field>`
    /// after the citation blocks of [`Defaults::cited`] (for example
    /// `hygiene.soak.minimum`, `interval<=0.5mm.wait`,
    /// `aftercare.pool_sauna.duration`). Rules name these in `defaults`.
    /// The check-in times are a list of windows, not one value, and are
    /// left out.
    pub fn amounts(&self) -> Vec<(String, Amount)> {
        let h = &self.hygiene;
        let mut out = vec![
            (
                "hygiene.soak.minimum".to_owned(),
                Amount::from(h.soak.minimum),
            ),
            (
                "hygiene.soak.min_alcohol_percent".to_owned(),
                Amount::Percent(f64::from(h.soak.min_alcohol_percent)),
            ),
            (
                "hygiene.soak.max_alcohol_percent".to_owned(),
                Amount::Percent(f64::from(h.soak.max_alcohol_percent)),
            ),
            (
                "hygiene.dry.minimum".to_owned(),
                Amount::from(h.dry.minimum),
            ),
            (
                "hygiene.replace.max_uses".to_owned(),
                Amount::Uses(f64::from(h.replace.max_uses)),
            ),
            (
                "course.sessions".to_owned(),
                Amount::Sessions(f64::from(self.course.sessions)),
            ),
        ];
        out.extend(
            [
                ("course.wait", self.course.wait),
                ("course.review_after", self.course.review_after),
            ]
            .into_iter()
            .filter_map(|(name, w)| Some((name.to_owned(), Amount::from_wait(w)?))),
        );
        for band in &self.intervals {
            let name = format!("interval<={}mm", band.max_mm);
            out.push((format!("{name}.max_mm"), Amount::Millimetres(band.max_mm)));
            if let Some(a) = Amount::from_wait(band.wait) {
                out.push((format!("{name}.wait"), a));
            }
        }
        for item in &self.aftercare {
            out.push((
                format!("aftercare.{}.duration", item.id),
                Amount::from(item.duration),
            ));
        }
        for class in &self.ingredients {
            out.push((
                format!("ingredient.{}.allowed_after", class.class),
                Amount::from(class.allowed_after),
            ));
        }
        out
    }

    /// The value of one named number (see [`Defaults::amounts`]).
    pub fn amount(&self, name: &str) -> Option<Amount> {
        self.amounts()
            .into_iter()
            .find_map(|(n, a)| (n == name).then_some(a))
    }
}

/// A number with its unit, as a default holds it or an explanation states
/// it. Units of one kind convert exactly and compare as one: minutes,
/// hours, days (of 24 hours) and weeks are all [`Amount::Seconds`]; months
/// and years are [`Amount::Months`], never converted to days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Seconds(f64),
    Months(f64),
    Percent(f64),
    Uses(f64),
    Sessions(f64),
    Millimetres(f64),
}

impl Amount {
    /// A calendar wait: whole months and years, or weeks, days and smaller
    /// units. A wait that mixes the two has no single unit and gives none.
    pub fn from_wait(w: Wait) -> Option<Amount> {
        let span = w.0;
        let months = i64::from(span.get_years()) * 12 + i64::from(span.get_months());
        if months == 0 {
            let d = span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()?;
            return Some(Amount::Seconds(d.as_secs_f64()));
        }
        let rest = span.years(0).months(0);
        rest.is_zero().then_some(Amount::Months(months as f64))
    }

    fn unit_and_value(self) -> (u8, f64) {
        match self {
            Amount::Seconds(v) => (0, v),
            Amount::Months(v) => (1, v),
            Amount::Percent(v) => (2, v),
            Amount::Uses(v) => (3, v),
            Amount::Sessions(v) => (4, v),
            Amount::Millimetres(v) => (5, v),
        }
    }

    /// Whether the two carry the same unit (after exact conversion).
    pub fn same_unit(self, other: Amount) -> bool {
        self.unit_and_value().0 == other.unit_and_value().0
    }

    /// The same unit and the same value.
    pub fn agrees_with(self, other: Amount) -> bool {
        let (u, a) = self.unit_and_value();
        let (w, b) = other.unit_and_value();
        u == w && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    /// The unit a word names, as a function of the number before it.
    fn unit(word: &str) -> Option<Unit> {
        Some(match word {
            "minute" | "minutes" | "min" | "mins" => |n| Amount::Seconds(n * 60.0),
            "hour" | "hours" | "h" | "hr" | "hrs" => |n| Amount::Seconds(n * 3600.0),
            "day" | "days" => |n| Amount::Seconds(n * 86_400.0),
            "week" | "weeks" => |n| Amount::Seconds(n * 604_800.0),
            "month" | "months" => Amount::Months,
            "year" | "years" => |n| Amount::Months(n * 12.0),
            "%" | "percent" => Amount::Percent,
            "use" | "uses" => Amount::Uses,
            "session" | "sessions" => Amount::Sessions,
            "mm" => Amount::Millimetres,
            _ => return None,
        })
    }
}

/// A unit: makes an [`Amount`] of the number before it.
type Unit = fn(f64) -> Amount;

impl From<ClockDuration> for Amount {
    fn from(d: ClockDuration) -> Amount {
        Amount::Seconds(d.0.as_secs_f64())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Amount::Seconds(s) => {
                let units = [
                    (604_800.0, "weeks"),
                    (86_400.0, "days"),
                    (3600.0, "hours"),
                    (60.0, "minutes"),
                ];
                match units.iter().find(|(size, _)| s >= *size && s % size == 0.0) {
                    Some((size, name)) => write!(f, "{} {name}", s / size),
                    None => write!(f, "{s} seconds"),
                }
            }
            Amount::Months(m) => write!(f, "{m} months"),
            Amount::Percent(p) => write!(f, "{p}%"),
            Amount::Uses(n) => write!(f, "{n} uses"),
            Amount::Sessions(n) => write!(f, "{n} sessions"),
            Amount::Millimetres(mm) => write!(f, "{mm} mm"),
        }
    }
}

/// The numbers a text states with a unit, each with the words that state
/// it: `10 minutes`, `70%`, `0.5 mm`, `a 10-minute soak`, `day 90`. The
/// first number of a range takes the unit of the second (`2 to 3 days`,
/// `8 to 10 uses`, `between 0.3 and 0.5 mm`, `60-90%`). Numbers in words
/// (`two or three`) and numbers without a unit are not read.
pub fn stated_amounts(text: &str) -> Vec<(String, Amount)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok<'a> {
        Num(f64),
        Word(&'a str),
        Dash,
        Other,
    }
    let mut toks: Vec<(Tok, usize, usize)> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let mut end = i + c.len_utf8();
        if c.is_ascii_digit() {
            while let Some(&(j, d)) = chars.peek() {
                let decimal_point =
                    d == '.' && text[j + 1..].starts_with(|n: char| n.is_ascii_digit());
                if d.is_ascii_digit() || decimal_point {
                    chars.next();
                    end = j + 1;
                } else {
                    break;
                }
            }
            match text[i..end].parse() {
                Ok(n) => toks.push((Tok::Num(n), i, end)),
                Err(_) => toks.push((Tok::Other, i, end)),
            }
        } else if c.is_alphabetic() {
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphabetic() {
                    chars.next();
                    end = j + d.len_utf8();
                } else {
                    break;
                }
            }
            toks.push((Tok::Word(&text[i..end]), i, end));
        } else if c == '%' {
            toks.push((Tok::Word("%"), i, end));
        } else if c == '-' || c == '\u{2013}' {
            toks.push((Tok::Dash, i, end));
        } else if !c.is_whitespace() {
            toks.push((Tok::Other, i, end));
        }
    }
    let lower = |t: Tok| match t {
        Tok::Word(w) => Some(w.to_lowercase()),
        _ => None,
    };
    // The unit right after token `i` (`10 minutes`, `10-minute`), with the
    // index of its token.
    let unit_after = |i: usize| -> Option<(Unit, usize)> {
        let mut j = i + 1;
        if toks.get(j).map(|t| t.0) == Some(Tok::Dash) {
            j += 1;
        }
        let word = lower(toks.get(j)?.0)?;
        Amount::unit(&word).map(|u| (u, j))
    };
    let mut out = Vec::new();
    for (i, &(tok, start, _)) in toks.iter().enumerate() {
        let Tok::Num(n) = tok else { continue };
        if let Some((unit, j)) = unit_after(i) {
            out.push((text[start..toks[j].2].to_owned(), unit(n)));
            continue;
        }
        // The first number of a range: `2 to 3 days`, `60-90%`.
        let connector = match toks.get(i + 1).map(|t| t.0) {
            Some(Tok::Dash) => true,
            Some(t) => matches!(lower(t).as_deref(), Some("to" | "or" | "and")),
            None => false,
        };
        if connector
            && matches!(toks.get(i + 2).map(|t| t.0), Some(Tok::Num(_)))
            && let Some((unit, j)) = unit_after(i + 2)
        {
            out.push((text[start..toks[j].2].to_owned(), unit(n)));
            continue;
        }
        // `day 90`.
        if i > 0
            && matches!(lower(toks[i - 1].0).as_deref(), Some("day"))
            && let Some(unit) = Amount::unit("day")
        {
            out.push((text[toks[i - 1].1..toks[i].2].to_owned(), unit(n)));
        }
    }
    out
}

/// Reports an explanation that states numbers in a default's unit, none
/// of which is the default's value. A text that states no number in that
/// unit says nothing to compare; one that states the value among others
/// (`sources range from 24 to 72 hours; needlewise takes 72`) agrees.
fn check_stated(what: &str, text: &str, name: &str, value: Amount, problems: &mut Vec<String>) {
    let stated: Vec<(String, Amount)> = stated_amounts(text)
        .into_iter()
        .filter(|(_, a)| a.same_unit(value))
        .collect();
    if !stated.is_empty() && !stated.iter().any(|(_, a)| a.agrees_with(value)) {
        let said: Vec<&str> = stated.iter().map(|(words, _)| words.as_str()).collect();
        problems.push(format!(
            "{what}: the explanation says {}, but defaults.toml has {name} = {value}",
            said.join(" and ")
        ));
    }
}

/// Reports a claim graded V whose sources are all of a lower kind (see
/// [`SourceKind`]). Sources that do not exist are reported elsewhere.
fn check_kinds(
    sources: &[Source],
    what: &str,
    grade: Grade,
    cited: &[String],
    problems: &mut Vec<String>,
) {
    if grade != Grade::V {
        return;
    }
    let kinds: Vec<(&str, SourceKind)> = cited
        .iter()
        .filter_map(|id| sources.iter().find(|s| &s.id == id))
        .map(|s| (s.id.as_str(), s.kind))
        .collect();
    if !kinds.is_empty() && kinds.iter().all(|(_, k)| k.ceiling() > Grade::V) {
        let ids: Vec<&str> = kinds.iter().map(|(id, _)| *id).collect();
        problems.push(format!(
            "{what} is graded V but cites only sources of a lower kind ({}): grade it by its best source",
            ids.join(", ")
        ));
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    source: Vec<Source>,
}

/// The whole evidence base, loaded and validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceBase {
    pub sources: Vec<Source>,
    pub screening: Questionnaire,
    pub readiness: Questionnaire,
    pub checkin: Questionnaire,
    pub defaults: Defaults,
}

/// Why the evidence base did not load. Each message names the file and item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence/{file}: {message}")]
    Parse { file: &'static str, message: String },
    #[error("evidence is inconsistent:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

fn parse<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<T, EvidenceError> {
    toml::from_str(text).map_err(|e| EvidenceError::Parse {
        file,
        message: e.to_string(),
    })
}

impl EvidenceBase {
    /// Parses and validates the embedded evidence files.
    pub fn load() -> Result<EvidenceBase, EvidenceError> {
        let sources: SourceFile = parse("sources.toml", SOURCES)?;
        let base = EvidenceBase {
            sources: sources.source,
            screening: parse("screening.toml", SCREENING)?,
            readiness: parse("readiness.toml", READINESS)?,
            checkin: parse("checkin.toml", CHECKIN)?,
            defaults: parse("defaults.toml", DEFAULTS)?,
        };
        let problems = base.problems();
        if problems.is_empty() {
            Ok(base)
        } else {
            Err(EvidenceError::Invalid(problems))
        }
    }

    pub fn questionnaires(&self) -> [&Questionnaire; 3] {
        [&self.screening, &self.readiness, &self.checkin]
    }

    pub fn questionnaire(&self, kind: QuestionnaireKind) -> &Questionnaire {
        match kind {
            QuestionnaireKind::Screening => &self.screening,
            QuestionnaireKind::Readiness => &self.readiness,
            QuestionnaireKind::Checkin => &self.checkin,
        }
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// Finds a rule by id in any questionnaire.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.questionnaires().into_iter().find_map(|q| q.rule(id))
    }

    /// Every consistency problem, in plain words. Empty means valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let known: BTreeSet<&str> = self.sources.iter().map(|s| s.id.as_str()).collect();
        let mut cited: BTreeSet<&str> = BTreeSet::new();
        let mut seen_sources = BTreeSet::new();
        for s in &self.sources {
            if !seen_sources.insert(s.id.as_str()) {
                problems.push(format!("source {} is listed twice", s.id));
            }
        }
        fn cite<'a>(
            known: &BTreeSet<&str>,
            cited: &mut BTreeSet<&'a str>,
            what: &str,
            sources: &'a [String],
            problems: &mut Vec<String>,
        ) {
            if sources.is_empty() {
                problems.push(format!("{what} cites no source"));
            }
            for id in sources {
                if known.contains(id.as_str()) {
                    cited.insert(id.as_str());
                } else {
                    problems.push(format!("{what} cites unknown source {id}"));
                }
            }
        }

        let mut rule_ids = BTreeSet::new();
        for q in self.questionnaires() {
            let kind = q.questionnaire;
            let mut question_ids = BTreeSet::new();
            for question in &q.questions {
                if !question_ids.insert(question.id.as_str()) {
                    problems.push(format!(
                        "{}: question {} is defined twice",
                        kind.id(),
                        question.id
                    ));
                }
                match &question.kind {
                    QuestionKind::Integer { min, max } if min > max => {
                        problems.push(format!("question {}: min is above max", question.id))
                    }
                    QuestionKind::Number { min, max } if min > max => {
                        problems.push(format!("question {}: min is above max", question.id))
                    }
                    QuestionKind::Choice { options } if options.is_empty() => {
                        problems.push(format!("question {}: a choice needs options", question.id))
                    }
                    _ => {}
                }
                if let Some(cond) = &question.enable_when {
                    check_condition(q, &format!("question {}", question.id), cond, &mut problems);
                }
            }
            check_topics(q, &mut problems);
            if let Some(planned) = &q.planned_zones {
                match q.question(planned) {
                    Some(question) if question.kind == QuestionKind::Zones => {}
                    _ => problems.push(format!(
                        "{}: planned_zones names {planned}, which is not a zones question",
                        kind.id()
                    )),
                }
            }
            for rule in &q.rules {
                let what = format!("rule {}", rule.id);
                if !rule_ids.insert(rule.id.as_str()) {
                    problems.push(format!("{what} is defined twice"));
                }
                if !rule.id.starts_with(rule_prefix(kind)) {
                    problems.push(format!("{what} should start with {:?}", rule_prefix(kind)));
                }
                if !kind.allows(rule.outcome) {
                    problems.push(format!(
                        "{what}: outcome {:?} does not belong to {}",
                        rule.outcome,
                        kind.id()
                    ));
                }
                if rule.outcome.is_hard_stop() && rule.grade == Grade::L && rule.policy.is_none() {
                    problems.push(format!(
                        "{what}: a hard stop graded L needs a `policy` line that says why it holds"
                    ));
                }
                if rule.explanation.trim().len() < 20 {
                    problems.push(format!(
                        "{what}: the explanation is too short to help anyone"
                    ));
                }
                cite(&known, &mut cited, &what, &rule.sources, &mut problems);
                check_kinds(
                    &self.sources,
                    &what,
                    rule.grade,
                    &rule.sources,
                    &mut problems,
                );
                for name in &rule.defaults {
                    match self.defaults.amount(name) {
                        Some(value) => {
                            check_stated(&what, &rule.explanation, name, value, &mut problems)
                        }
                        None => problems.push(format!(
                            "{what} relies on default {name}, which defaults.toml does not have"
                        )),
                    }
                }
                if let Some(o) = &rule.clinician_override {
                    let what = format!("{what}'s clinician override");
                    if kind != QuestionnaireKind::Screening {
                        problems.push(format!(
                            "{what}: only screening rules may be overridden by a clinician"
                        ));
                    }
                    cite(&known, &mut cited, &what, &o.sources, &mut problems);
                    check_kinds(&self.sources, &what, o.grade, &o.sources, &mut problems);
                }
                check_condition(q, &what, &rule.when, &mut problems);
            }
        }
        let amounts = self.defaults.amounts();
        for (name, c) in self.defaults.cited() {
            let what = format!("default {name}");
            cite(&known, &mut cited, &what, &c.sources, &mut problems);
            check_kinds(&self.sources, &what, c.grade, &c.sources, &mut problems);
            for (value_name, value) in &amounts {
                if value_name.rsplit_once('.').map(|(block, _)| block) == Some(name.as_str()) {
                    check_stated(&what, &c.explanation, value_name, *value, &mut problems);
                }
            }
        }
        let soak = &self.defaults.hygiene.soak;
        if soak.min_alcohol_percent > soak.max_alcohol_percent || soak.max_alcohol_percent > 100 {
            problems.push(format!(
                "default hygiene.soak: the alcohol range {}-{}% is impossible",
                soak.min_alcohol_percent, soak.max_alcohol_percent
            ));
        }
        problems.extend(ingredient_problems(&self.defaults));
        let mut last = 0.0;
        for band in &self.defaults.intervals {
            if band.max_mm <= last {
                problems.push("interval bands must rise by max_mm".to_owned());
            }
            last = band.max_mm;
        }
        for unused in known.difference(&cited) {
            problems.push(format!("source {unused} is cited by nothing"));
        }
        problems
    }
}

/// The serum gate's data must keep it an allow-list: matching by part of
/// a name only ever makes it stricter, every name sits in one class, and
/// names are written as they are compared.
fn ingredient_problems(defaults: &Defaults) -> Vec<String> {
    let mut problems = Vec::new();
    let window = defaults
        .aftercare
        .iter()
        .find(|a| a.id == "serum")
        .map(|a| a.duration);
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for class in &defaults.ingredients {
        let what = format!("ingredient class {}", class.class);
        if !class.contains.is_empty() && window.is_some_and(|w| class.allowed_after <= w) {
            problems.push(format!(
                "{what} matches parts of names but waits no longer than the serum window: only exact names may allow a product early"
            ));
        }
        for name in class.names.iter().chain(&class.contains) {
            if name.trim() != name || name.to_lowercase() != *name || name.is_empty() {
                problems.push(format!("{what}: {name:?} must be lower case and trimmed"));
            }
        }
        for name in &class.names {
            if let Some(other) = seen.insert(name, &class.class) {
                problems.push(format!("{what}: {name:?} is also in class {other}"));
            }
        }
    }
    problems
}

fn rule_prefix(kind: QuestionnaireKind) -> &'static str {
    match kind {
        QuestionnaireKind::Screening => "screen.",
        QuestionnaireKind::Readiness => "ready.",
        QuestionnaireKind::Checkin => "checkin.",
    }
}

fn kind_name(kind: &QuestionKind) -> &'static str {
    match kind {
        QuestionKind::Bool => "bool",
        QuestionKind::Integer { .. } => "integer",
        QuestionKind::Number { .. } => "number",
        QuestionKind::Choice { .. } => "choice",
        QuestionKind::Exposure => "exposure",
        QuestionKind::Zones => "zones",
        QuestionKind::Procedures => "procedures",
        QuestionKind::Date => "date",
    }
}

/// A questionnaire with topics is asked a step at a time: every question
/// asked has a topic, and a question's condition reads only questions of
/// its own step or earlier ones (a later answer is not known yet).
fn check_topics(q: &Questionnaire, problems: &mut Vec<String>) {
    let asked: Vec<&Question> = q.questions.iter().filter(|q| !q.fact).collect();
    if asked.iter().all(|q| q.topic.is_none()) {
        return;
    }
    for question in asked.iter().filter(|q| q.topic.is_none()) {
        problems.push(format!(
            "{}: question {} has no topic, but the others do",
            q.questionnaire.id(),
            question.id
        ));
    }
    let steps = q.steps();
    let step_of = |id: &str| {
        steps
            .iter()
            .position(|s| s.questions.iter().any(|q| q.id == id))
    };
    for (n, step) in steps.iter().enumerate() {
        for question in &step.questions {
            let Some(cond) = &question.enable_when else {
                continue;
            };
            let mut refs = Vec::new();
            cond.visit_questions(&mut refs);
            for (id, _) in refs {
                if step_of(id).is_some_and(|m| m > n) {
                    problems.push(format!(
                        "question {} is asked before {id}, which its condition reads",
                        question.id
                    ));
                }
            }
        }
    }
}

fn check_condition(q: &Questionnaire, what: &str, cond: &Condition, problems: &mut Vec<String>) {
    let mut refs = Vec::new();
    cond.visit_questions(&mut refs);
    for (id, kinds) in refs {
        match q.question(id) {
            None => problems.push(format!(
                "{what} refers to question {id}, which {} does not have",
                q.questionnaire.id()
            )),
            Some(question) if !kinds.contains(&kind_name(&question.kind)) => {
                problems.push(format!(
                    "{what} reads {id} as {}, but it is a {} question",
                    kinds.join(" or "),
                    kind_name(&question.kind)
                ))
            }
            Some(_) => {}
        }
    }
    check_values(q, what, cond, problems);
}

fn check_values(q: &Questionnaire, what: &str, cond: &Condition, problems: &mut Vec<String>) {
    match cond {
        Condition::Equals { question, value } => check_option(q, what, question, value, problems),
        Condition::OneOf { question, values } => {
            for v in values {
                check_option(q, what, question, v, problems);
            }
        }
        Condition::All { of } | Condition::Any { of } => {
            if of.is_empty() {
                problems.push(format!("{what}: an empty all/any"));
            }
            for c in of {
                check_values(q, what, c, problems);
            }
        }
        Condition::Not { of } => check_values(q, what, of, problems),
        _ => {}
    }
}

fn check_option(
    q: &Questionnaire,
    what: &str,
    question: &str,
    value: &str,
    problems: &mut Vec<String>,
) {
    if let Some(Question {
        kind: QuestionKind::Choice { options },
        ..
    }) = q.question(question)
        && !options.iter().any(|o| o == value)
    {
        problems.push(format!(
            "{what} compares {question} with {value:?}, which is not one of its options"
        ));
    }
}

static EVIDENCE: LazyLock<Result<EvidenceBase, EvidenceError>> = LazyLock::new(EvidenceBase::load);

/// The embedded evidence base, loaded once.
///
/// The data is compiled in and validated by the test suite, so an error here
/// means a build that skipped its tests; binaries call [`try_evidence`] at
/// start-up to report that cleanly.
pub fn evidence() -> &'static EvidenceBase {
    match &*EVIDENCE {
        Ok(base) => base,
        Err(e) => panic!("the embedded evidence base is invalid: {e}"),
    }
}

/// The embedded evidence base, or why it is invalid.
pub fn try_evidence() -> Result<&'static EvidenceBase, &'static EvidenceError> {
    EVIDENCE.as_ref()
}

/// Sources cited by a rule, resolved.
pub fn rule_sources<'a>(base: &'a EvidenceBase, rule: &Rule) -> Vec<&'a Source> {
    rule.sources
        .iter()
        .filter_map(|id| base.source(id))
        .collect()
}

/// A count of rules by questionnaire and outcome, for summaries.
pub fn summary(base: &EvidenceBase) -> BTreeMap<(QuestionnaireKind, Outcome), usize> {
    let mut out = BTreeMap::new();
    for q in base.questionnaires() {
        for r in &q.rules {
            *out.entry((q.questionnaire, r.outcome)).or_insert(0) += 1;
        }
    }
    out
}
