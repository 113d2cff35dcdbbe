"""The language of a question (to answer and refuse in it, and to know which way to translate it)
and of a passage (to know which languages a collection holds).

QUESTIONS is the gold set behind bench/DECISIONS.md 2026-12-02: short staff questions as people
type them, with the hard cases on purpose (no accents, one or two words, English words and
product names inside French questions, French spacing before "?" in English questions)."""
import pytest

from assistant.language import LANGUAGE_NAMES, detect_language, text_language

FRENCH = [
    "Puis-je travailler depuis chez moi ?",
    "Puis je travailler depuis chez moi",
    "Je peux travailler de chez moi demain ?",
    "Combien de jours de congés ai-je par an ?",
    "Combien de jours de teletravail par semaine ?",
    "Télétravail ?",
    "Teletravail",
    "conges payes",
    "Congé maternité : quelle durée ?",
    "Mes congés non pris sont-ils reportés ?",
    "Comment déclarer un arrêt maladie ?",
    "Comment changer mon mot de passe ?",
    "mot de passe oublie",
    "Mot de passe expiré",
    "Comment reinitialiser mon mot de passe Outlook ?",
    "Remboursement des frais de taxi ?",
    "Ou envoyer mes notes de frais ?",
    "Faut-il une validation du manager pour les frais de repas ?",
    "Quel est le plafond des notes de frais pour un hôtel ?",
    "Remboursement abonnement Navigo",
    "Le VPN ne marche plus, que faire ?",
    "Comment me connecter au VPN depuis la maison ?",
    "Je n'arrive pas à me connecter à Teams",
    "Comment installer Slack sur mon ordinateur ?",
    "Qui contacter pour un nouveau laptop ?",
    "Imprimante en panne",
    "J'ai perdu mon téléphone pro, que dois-je faire ?",
    "Mon badge ne fonctionne plus",
    "Le wifi invité, c'est quoi le code ?",
    "Quelle est la procédure d'onboarding ?",
    "Le onboarding dure combien de temps ?",
    "Premier jour : à quelle heure arriver ?",
    "Ai-je droit à un ordinateur portable ?",
    "Puis-je poser un jour de RTT vendredi ?",
    "Quand est versé le salaire ?",
    "Puis je travailler depuis l etranger ?",
    "Est-ce que le télétravail est autorisé le lundi ?",
    "Quel identifiant numérique est réservé à nobody ?",
    # second round: one or two words
    "Congés",
    "Salaire ?",
    "Mutuelle",
    "Badge perdu",
    "Heures sup",
    "Note de frais",
    "Arret maladie",
    "Mot de passe",
    "Fiche de paie",
    "Jours feries",
    "Forfait mobile",
    "Ecran casse",
    "Acces VPN",
    "Demission",
    "Preavis ?",
    "Visite medicale",
    "Puis-je",
    "Horaires",
    "Pause dejeuner",
    "mdp oublié",
    "Réinitialiser MFA",
    "Astreinte week-end",
    "Combien de RTT",
    "Teams plante",
    "Mon PC rame",
    # English words inside French
    "Remote possible le vendredi ?",
    "Le process d'onboarding",
    "Je suis bloque sur Jira",
    "Besoin d'un second ecran",
    "Formation securite obligatoire ?",
    "Ou est la cantine",
    "A qui demander un badge",
    "Ca marche pas",
    "Prime de fin d'année",
    "Comité d'entreprise",
    "Télétravail à l'étranger",
    "Comment on fait pour poser des vacances",
    "C'est quand la paie",
    # held out while the combination was designed (bench/DECISIONS.md 2026-12-02)
    "Qui valide mes absences ?",
    "Je veux changer de poste, a qui m'adresser",
    "Combien coute la mutuelle",
    "Procedure pour un nouvel arrivant",
    "Peut-on travailler le samedi ?",
    "Ou se trouve la salle de reunion B ?",
    "Acces au drive partage",
    "Mon compte Google est verrouillé",
    "Delai de remboursement",
    "Frais kilometriques",
    "Quel est le numero du support informatique ?",
    "Je dois faire une mise a jour Windows ?",
    "Combien de temps pour recevoir mon ordinateur",
    "Conges sans solde possible ?",
    "Regles de securite des mots de passe",
    "Telechargement de logiciels autorise ?",
    "Garde d'enfant malade",
    "Demande de materiel",
    "Qui est mon referent onboarding",
    "Zoom ou Teams pour les reunions clients ?",
    # held out until the word lists were frozen
    "Comment obtenir une attestation employeur ?",
    "Ou deposer mon justificatif de domicile",
    "Le parking est-il gratuit pour les visiteurs ?",
    "Combien de temps dure la periode d'essai",
    "Puis-je emporter mon ecran a la maison",
    "Signature electronique des contrats",
    "Ticket informatique en attente depuis trois jours",
    "Quelles sont les regles pour le covoiturage ?",
    "Erreur de certificat sur l'intranet",
    "Je n'ai pas recu ma carte de cantine",
    "Augmentation annuelle : quand ?",
    "Casque audio casse",
    "Droit a la deconnexion",
    "Comment acceder a mes bulletins",
    "Cles USB interdites ?",
]

ENGLISH = [
    "Can I work from home?",
    "Can I work from home ?",
    "Can I work from abroad?",
    "How many remote days per week?",
    "Remote work?",
    "How many days of leave do I get?",
    "vacation days",
    "sick leave",
    "Parental leave policy",
    "How long is maternity leave?",
    "Can I carry over unused leave?",
    "Can I take a day off on Friday?",
    "How do I reset my password?",
    "password reset",
    "Password expired",
    "Outlook keeps asking for my password",
    "Where do I submit my expense report?",
    "Is taxi reimbursed ?",
    "What's the hotel expense limit?",
    "What is the per diem for meals?",
    "Who approves my expenses?",
    "Is the Navigo pass reimbursed?",
    "VPN not working",
    "How do I connect to the VPN from home ?",
    "How do I install Slack on my computer?",
    "Who do I contact for a new laptop ?",
    "Can I use my personal laptop for work?",
    "Printer broken",
    "I lost my work phone, what should I do?",
    "My badge does not work anymore",
    "Wifi password for guests?",
    "How do I report a phishing email?",
    "What is the onboarding process?",
    "Where is the onboarding checklist?",
    "What time should I arrive on my first day?",
    "Do I get a laptop?",
    "When is salary paid?",
    "How do I request access to SharePoint?",
    "Where do I upload my résumé?",
    "What does the nocheck tag in DEB_BUILD_OPTIONS mean?",
    # second round: one or two words, then short phrases
    "Holidays",
    "Payslip",
    "Expenses",
    "Onboarding",
    "Overtime",
    "Day off",
    "Screen broken",
    "Lost badge",
    "Reset MFA",
    "Jira access",
    "Teams crashed",
    "Resignation",
    "Sick day",
    "Medical check",
    "Lunch break",
    "Notice period?",
    "Forgot password",
    "Payroll date",
    "Working hours",
    "Travel policy",
    "Relocation package",
    "Weekend on-call",
    "Year end bonus",
    "My PC is slow",
    "Need a second monitor",
    "Security training mandatory?",
    "Where is the canteen",
    "Who issues badges",
    "It does not work",
    "Stuck on Jira",
    "Remote on Friday possible?",
    "How many PTO days",
    "How do I book vacation",
    "When is payday",
    # held out while the combination was designed
    "Who approves my time off?",
    "I want to change roles, who do I talk to",
    "How much does health insurance cost",
    "Process for a new starter",
    "Can we work on Saturdays?",
    "Where is meeting room B ?",
    "Access to the shared drive",
    "My Google account is locked",
    "Reimbursement delay",
    "Mileage allowance",
    "What's the IT support number?",
    "Do I need to run a Windows update?",
    "How long until I get my computer",
    "Unpaid leave possible?",
    "Password rules",
    "Am I allowed to download software?",
    "Sick child care",
    "Equipment request",
    "Who is my onboarding buddy",
    "Zoom or Teams for client meetings?",
    # held out until the word lists were frozen
    "How do I get an employment certificate?",
    "Where do I drop off proof of address",
    "Is parking free for visitors?",
    "How long is the probation period",
    "Can I take my monitor home",
    "Electronic signature of contracts",
    "IT ticket pending for three days",
    "What are the rules for carpooling?",
    "Certificate error on the intranet",
    "I haven't received my canteen card",
    "Annual raise: when?",
    "Headset broken",
    "Right to disconnect",
    "How do I access my payslips",
    "Are USB sticks forbidden?",
]

QUESTIONS = [(q, "fr") for q in FRENCH] + [(q, "en") for q in ENGLISH]


def test_the_gold_set_is_large_enough_and_has_no_repeats():
    assert len(FRENCH) >= 30 and len(ENGLISH) >= 30
    assert len({q for q, _ in QUESTIONS}) == len(QUESTIONS)


@pytest.mark.parametrize(("question", "language"), QUESTIONS)
def test_the_language_of_each_gold_question(question, language):
    assert detect_language(question) == language


@pytest.mark.parametrize("text", ["", "   ", "?", "42", "DEB_BUILD_OPTIONS=nocheck", "🙂"])
def test_a_question_with_no_words_is_taken_for_english(text):
    assert detect_language(text) == "en"


@pytest.mark.parametrize("name", ["VPN", "Jira", "Okta", "Confluence", "Excel", "Outlook", "Teams", "SharePoint ?"])
def test_a_bare_product_name_is_taken_for_english(name):
    assert detect_language(name) == "en"


def test_every_detected_language_has_a_name():
    assert LANGUAGE_NAMES == {"en": "English", "fr": "French"}
    assert {detect_language(q) for q, _ in QUESTIONS} <= set(LANGUAGE_NAMES)


FRENCH_PASSAGE = (
    "Les salariés peuvent travailler à distance jusqu'à deux jours par semaine, après accord de "
    "leur responsable. Les frais de connexion ne sont pas remboursés, mais l'entreprise fournit "
    "un ordinateur portable et un casque.")
ENGLISH_PASSAGE = (
    "Employees may work remotely for up to two days a week once their manager has approved it. "
    "Internet costs are not reimbursed, but the company provides a laptop and a headset.")
FRENCH_NO_ACCENTS = (
    "Pour changer votre mot de passe, ouvrez le portail interne, choisissez votre profil puis "
    "suivez les etapes indiquees par le service informatique.")


def test_the_language_of_passages():
    assert text_language(FRENCH_PASSAGE) == "fr"
    assert text_language(FRENCH_NO_ACCENTS) == "fr"
    assert text_language(ENGLISH_PASSAGE) == "en"


@pytest.mark.parametrize("text", [
    "", "Congés payés", "Remote work policy", "Version 3.8.0",  # too short to tell
    "| 2026-01-05 | 12.50 | 3 | 4 | 7 | 9 | 10 | 11 | 12 |",  # a table row, no prose
    "Alice Martin, Bruno Dupont, Chen Wei, Dana Okafor, Emil Novak, Fatima Zahra, Goran Ilic",  # names
])
def test_a_passage_too_short_or_without_prose_has_no_language(text):
    assert text_language(text) is None
