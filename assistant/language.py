"""English or French: the language of a question (to answer and refuse in it, and to know which
way to translate it for retrieval) and of a passage (to know which languages a collection holds).

Questions are short, often a word or two without accents, and mix in English product names and
jargon ("Le VPN ne marche plus", "Puis-je travailler depuis chez moi ?"). A character n-gram
model (py3langid, restricted to en/fr) reads spellings a word list misses; the words that only one
of the two languages has (function words, elisions such as l'/d', inversions such as -je, accents)
are added to its evidence, so a French question made of English nouns is still French.
Measured in bench/DECISIONS.md (2026-12-02) on the gold set in tests/assistant/test_language.py.
"""
from __future__ import annotations

import math
import re
import threading
import unicodedata
from typing import Literal

Language = Literal["en", "fr"]
LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "fr": "French"}

# Words that are common in one language and not words of the other (accents folded). Left out:
# words both have or that look alike ("a", "on", "me", "plus", "son", "as", "pain").
_FRENCH_WORDS = frozenset(
    "le la les des du de un une et est sont je tu il elle nous vous ils elles mon ma mes ton ta tes sa ses "
    "notre nos votre vos leur leurs ce cet cette ces qui que quoi quel quelle quels quelles comment combien "
    "pourquoi quand ou au aux pour par avec sans dans sur sous chez depuis pendant vers ne pas jamais rien "
    "faut peut peux puis dois doit suis ai avons avez ont etre avoir fait faire en y ca".split())
_ENGLISH_WORDS = frozenset(
    "the of to is are am was were be been do does did how what where who when why which can could should "
    "would will my your our their i we you it this that these those for with from about not an and or get "
    "got have has there any per off up out into until need want whats dont im its doesnt cant ive isnt by "
    "at if in".split())
# Words of staff questions (leave, pay, expenses, IT, remote work, onboarding) that only one of
# the two languages spells so. Not listed: the English words French staff use as they are
# (laptop, onboarding, remote, process, badge, manager, meeting, week-end, wifi, planning, reset).
_FRENCH_STAFF_WORDS = frozenset(
    "conge conges teletravail travail travailler travaille frais remboursement rembourse rembourser paie "
    "salaire mutuelle arret maladie demission preavis astreinte visite medicale medecin ecran casse panne "
    "imprimante ordinateur mot passe oublie identifiant compte acces reseau logiciel logiciels materiel "
    "embauche arrivee arrivant accueil jour jours semaine mois annee heures horaires vacances solde retraite "
    "prime entreprise salarie salaries employe demande demander envoyer changer marche fonctionne bloque "
    "plante rame perdu vole nouveau nouvelle premier premiere reunion securite obligatoire dejeuner "
    "telechargement mise enfant malade deplacement voyage repas transport abonnement".split())
_ENGLISH_STAFF_WORDS = frozenset(
    "leave password passwords expense expenses reimbursed reimbursement policy access travel payslip payroll "
    "holiday holidays sick day days broken lost forgot forgotten request approve approves approved allowed "
    "room shared account locked insurance health allowance rules equipment software child care unpaid starter "
    "work working hours home overtime notice period resignation training mandatory break lunch slow stuck "
    "crashed issues screen monitor new first time number check book carry unused submit phone salary paid "
    "payday vacation sign join joining benefits".split())
_ELISION = re.compile(r"^(?:l|d|j|n|m|s|t|c|qu)'[a-zàâäçéèêëîïôöùûüœæ]{2,}")  # l'onboarding, d'accès, qu'il, c'est
# puis-je, est-ce, peut-il; not a bare "-on", which English has too (sign-on, add-on).
_INVERSION = re.compile(r"-(?:je|tu|il|elle|nous|vous|ils|elles|ce|t-il|t-elle|t-on)\b")
_ACCENTED = re.compile(r"[àâçéèêëîïôùûœæ]")
_WORD = re.compile(r"[a-zàâäçéèêëîïôöùûüœæ]+(?:'[a-zàâäçéèêëîïôöùûüœæ]+)?")

# Logit units per piece of word evidence, against py3langid's log(p_fr / p_en). 2.0 lets one
# unambiguous function word outweigh the model's usual confidence on two or three words.
_WORD_WEIGHT = 2.0
# Below this |log(p_fr / p_en)| the model is taken to know nothing about a lone word.
_UNSURE = 1.0

_identifier = None
_identifier_lock = threading.Lock()


def _model():
    """py3langid's model, restricted to English and French, loaded on first use (~0.4 s: an
    LZMA-compressed file inside the package, nothing downloaded)."""
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(["en", "fr"])
                _identifier = identifier
    return _identifier


def _fold(word: str) -> str:
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _word_evidence(text: str) -> int:
    """French pieces of evidence minus English ones."""
    evidence = 0
    for word in _WORD.findall(text):
        if _ELISION.match(word):
            evidence += 1
            continue
        if _ACCENTED.search(word):
            evidence += 1
        folded = _fold(word).replace("'", "")
        evidence += ((folded in _FRENCH_WORDS or folded in _FRENCH_STAFF_WORDS)
                     - (folded in _ENGLISH_WORDS or folded in _ENGLISH_STAFF_WORDS))
    return evidence + len(_INVERSION.findall(text))


def _model_logit(text: str) -> float:
    """log(p_fr / p_en) by py3langid; 0 when it has nothing to go on."""
    language, confidence = _model().classify(text)
    confidence = min(max(confidence, 1e-6), 1 - 1e-6)
    logit = math.log(confidence / (1 - confidence))
    return logit if language == "fr" else -logit


def detect_language(text: str) -> Language:
    """The language of a question: 'fr' or 'en'. English when nothing tells: no words, or one word
    that is in neither word list and that the model is unsure of (a bare product name such as
    "VPN" or "Jira")."""
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    words = _WORD.findall(text)
    if not words:
        return "en"
    evidence = _word_evidence(text)
    logit = _model_logit(text)
    if len(words) == 1 and evidence == 0 and abs(logit) < _UNSURE:
        return "en"
    return "fr" if logit + _WORD_WEIGHT * evidence > 0 else "en"


def text_language(text: str) -> Language | None:
    """The language of a passage of prose ('en' or 'fr'); None when it is too short (under 8
    words) or not prose in either (tables, code, lists of names)."""
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    words = [_fold(w.split("'")[-1]) for w in _WORD.findall(text)]  # l'entreprise: entreprise
    if len(words) < 8:
        return None
    french = sum(1 for w in words if w in _FRENCH_WORDS) / len(words)
    english = sum(1 for w in words if w in _ENGLISH_WORDS) / len(words)
    if max(french, english) < 0.05:
        return None
    return "fr" if french > english else "en"
