#!/usr/bin/env python3
"""Regenerate the binary demo seed documents for Bellmont Logistics.

Generates, next to this script:
  - politique-securite-informatique.docx  (French, python-docx)
  - onboarding-guide.pdf                  (English, fpdf2, 2 pages)

All text lives in this file. The script makes no network access and is
deterministic: document metadata uses fixed dates, and the DOCX zip container
is rewritten with fixed member timestamps so that repeated runs produce
byte-identical files (for a given python-docx / fpdf2 version).

Usage:  .venv/bin/python scripts/make_seeds.py  (rewrites the DOCX and PDF in seeds/)
Requires: python-docx, fpdf2  (tested with python-docx 1.2.0, fpdf2 2.8.x)
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from docx import Document
from docx.shared import Pt
from fpdf import FPDF

HERE = Path(__file__).resolve().parent.parent / "seeds"
FIXED_DATE = dt.datetime(2024, 3, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
ZIP_DATE = (2024, 3, 1, 9, 0, 0)

# ---------------------------------------------------------------------------
# DOCX: French IT security policy
# ---------------------------------------------------------------------------
# Each entry is (kind, text). kind: "title", "h1", "p", "bullet", "table".
SECURITY_POLICY_FR = [
    ("title", "Politique de sécurité informatique"),
    ("p", "Bellmont Logistics – Direction des systèmes d'information. "
          "Version 3.2, mise à jour le 1er mars 2024."),

    ("h1", "1. Objet et champ d'application"),
    ("p", "Cette politique définit les règles de sécurité informatique que tous les "
          "collaborateurs de Bellmont Logistics doivent respecter. Elle s'applique aux "
          "salariés, aux intérimaires, aux stagiaires et aux prestataires qui utilisent "
          "le matériel, les comptes ou les données de l'entreprise, au bureau comme en "
          "télétravail."),
    ("p", "Le non-respect de cette politique peut entraîner la suspension des accès "
          "informatiques et des sanctions disciplinaires."),

    ("h1", "2. Mots de passe et authentification"),
    ("p", "Les mots de passe doivent comporter au moins 14 caractères. Nous "
          "recommandons d'utiliser une phrase de passe composée de plusieurs mots "
          "faciles à retenir pour vous, mais difficiles à deviner pour les autres."),
    ("p", "Un mot de passe ne doit jamais être réutilisé sur un autre service ni "
          "communiqué à un collègue, y compris à l'équipe informatique. Utilisez le "
          "gestionnaire de mots de passe fourni par l'entreprise pour les conserver."),
    ("p", "L'authentification multifacteur (MFA) est obligatoire pour la messagerie "
          "et le VPN. L'application d'authentification est installée sur votre "
          "téléphone professionnel lors de votre arrivée."),

    ("h1", "3. Postes de travail et supports amovibles"),
    ("p", "Les postes de travail se verrouillent automatiquement après 5 minutes "
          "d'inactivité. Verrouillez aussi votre session manuellement chaque fois que "
          "vous quittez votre poste, même pour un court instant."),
    ("p", "Les clés USB personnelles sont interdites. Pour échanger des fichiers, "
          "utilisez l'espace de partage de l'entreprise ou demandez une clé USB "
          "chiffrée au service informatique."),
    ("p", "N'installez aucun logiciel qui n'a pas été validé par le service "
          "informatique. Les mises à jour de sécurité sont déployées automatiquement "
          "et ne doivent pas être reportées."),

    ("h1", "4. Outils d'intelligence artificielle"),
    ("p", "Il est interdit de copier des documents de l'entreprise dans des chatbots "
          "publics en ligne (ChatGPT, etc.). Cette interdiction concerne aussi les "
          "extraits de contrats, les données clients et les tableaux de prix."),
    ("p", "Pour interroger les documents internes, utilisez uniquement l'assistant "
          "documentaire privé de Bellmont Logistics, qui fonctionne sur nos propres "
          "serveurs et ne transmet aucune donnée à l'extérieur."),

    ("h1", "5. Classification des données"),
    ("p", "Chaque document doit être classé selon l'un des quatre niveaux ci-dessous. "
          "En cas de doute, appliquez le niveau le plus élevé."),
    ("table", [
        ["Niveau", "Exemples", "Qui peut y accéder", "Règles de stockage"],
        ["Public", "Plaquettes commerciales, offres d'emploi publiées",
         "Tout le monde, y compris hors de l'entreprise",
         "Aucune restriction particulière"],
        ["Interne", "Procédures, notes de service, annuaire interne",
         "Tous les collaborateurs de Bellmont Logistics",
         "Espaces de stockage de l'entreprise uniquement"],
        ["Confidentiel", "Contrats clients, données RH, tarifs négociés",
         "Personnes nommément autorisées par le responsable du service",
         "Dossiers à accès restreint, chiffrement obligatoire en cas d'envoi externe"],
        ["Secret", "Projets de fusion, résultats financiers non publiés",
         "Membres de la direction et personnes désignées par écrit",
         "Coffre-fort numérique chiffré, aucune impression ni copie locale"],
    ]),

    ("h1", "6. Signalement des incidents"),
    ("p", "Tout incident de sécurité doit être signalé à securite@bellmont.example "
          "dans un délai d'une heure. Sont notamment concernés : la perte ou le vol "
          "d'un ordinateur ou d'un téléphone, un courriel suspect sur lequel vous avez "
          "cliqué, ou l'envoi d'un document au mauvais destinataire."),
    ("p", "Ne tentez pas de résoudre l'incident vous-même et n'effacez aucune trace. "
          "Signaler rapidement une erreur n'entraîne jamais de sanction."),

    ("h1", "7. Contact"),
    ("p", "Pour toute question sur cette politique, contactez le responsable de la "
          "sécurité des systèmes d'information (RSSI) via le portail informatique. "
          "Cette politique est revue chaque année."),
]


def _normalise_zip(path: Path) -> None:
    """Rewrite a zip (DOCX) with fixed timestamps and a stable member order."""
    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
    path.write_bytes(buf.getvalue())


def build_docx(out: Path) -> None:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)

    for kind, content in SECURITY_POLICY_FR:
        if kind == "title":
            doc.add_heading(content, level=0)
        elif kind == "h1":
            doc.add_heading(content, level=1)
        elif kind == "p":
            doc.add_paragraph(content)
        elif kind == "bullet":
            doc.add_paragraph(content, style="List Bullet")
        elif kind == "table":
            rows = content
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = text
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
        else:
            raise ValueError(kind)

    cp = doc.core_properties
    cp.title = "Politique de sécurité informatique"
    cp.subject = "Règles de sécurité informatique pour les collaborateurs"
    cp.author = "Direction des systèmes d'information, Bellmont Logistics"
    cp.last_modified_by = "Direction des systèmes d'information, Bellmont Logistics"
    cp.language = "fr-FR"
    cp.keywords = "sécurité, mots de passe, MFA, incidents, classification"
    cp.revision = 1
    cp.created = FIXED_DATE.replace(tzinfo=None)
    cp.modified = FIXED_DATE.replace(tzinfo=None)
    cp.last_printed = FIXED_DATE.replace(tzinfo=None)

    doc.save(str(out))
    _normalise_zip(out)


# ---------------------------------------------------------------------------
# PDF: English onboarding guide (ASCII only -> core Helvetica font is enough)
# ---------------------------------------------------------------------------
# One list entry per PDF page; facts are deliberately kept on their own page.
ONBOARDING_PAGES = [
    {
        "title": "Onboarding Guide - Part 1: Your First Day",
        "blocks": [
            ("p", "Welcome to Bellmont Logistics! This guide walks you through your "
                  "first day and your first week. Keep it at hand: most of the "
                  "questions new colleagues ask are answered here."),
            ("h", "Arriving at the Lyon office"),
            ("p", "On your first day, arrive at 09:00 at reception on floor 3 of the "
                  "Lyon office. Please bring an identity document; the receptionist "
                  "will check it against your contract details."),
            ("h", "Your badge"),
            ("p", "Collect your badge at reception on your first day. The badge opens "
                  "the building entrance, the lifts and the office floors, and it is "
                  "also used for the printers. If you lose your badge, tell reception "
                  "the same day so that it can be blocked."),
            ("h", "Your laptop"),
            ("p", "Your laptop is set up by IT before you arrive. It is waiting for you "
                  "on your desk with your user account, email and standard software "
                  "already installed. You will choose your own password when you log "
                  "in for the first time."),
            ("h", "Your onboarding buddy"),
            ("p", "Each newcomer gets an onboarding buddy for the first 6 weeks. Your "
                  "buddy is an experienced colleague from a neighbouring team who "
                  "shows you around, has lunch with you on your first day and answers "
                  "everyday questions. Your buddy is not your manager: questions about "
                  "your objectives and your contract go to your manager or to HR."),
            ("h", "End of the first day"),
            ("p", "At 16:30 your manager meets you for a short welcome conversation "
                  "to agree on your priorities for the first month."),
        ],
    },
    {
        "title": "Onboarding Guide - Part 2: Your First Week",
        "blocks": [
            ("p", "During your first week you complete a few mandatory steps and learn "
                  "which tools we use every day."),
            ("h", "Mandatory security training"),
            ("p", "Complete the mandatory security training within 5 working days of "
                  "your start date. The training is an online course of about 45 "
                  "minutes. Your access to customer data is only activated once the "
                  "training is completed."),
            ("h", "Expense claims"),
            ("p", "Submit expense claims via the \"Ledgerly\" app on your phone or "
                  "laptop. Photograph each receipt and attach it to the claim. Expense "
                  "claims are reimbursed within 14 days of approval by your manager, "
                  "directly to your bank account."),
            ("h", "IT helpdesk"),
            ("p", "The IT helpdesk is on extension 4357. Call the helpdesk for "
                  "problems with your laptop, your accounts, printers or the VPN. The "
                  "helpdesk is staffed on working days from 08:00 to 18:00."),
            ("h", "Meet your colleagues"),
            ("p", "On Thursday of your first week you attend the welcome session for "
                  "new colleagues, where each department presents its work. Your "
                  "buddy will tell you the room."),
            ("h", "Checklist for the end of week one"),
            ("b", "Security training completed."),
            ("b", "Ledgerly app installed and signed in."),
            ("b", "Leave requests explained (see the leave policy)."),
            ("b", "First meeting with your team held."),
        ],
    },
]


class OnboardingPDF(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.set_text_color(90, 90, 90)
        self.cell(0, 6, "Bellmont Logistics - Staff Onboarding Guide",
                  new_x="LMARGIN", new_y="NEXT", align="L")
        self.set_text_color(0, 0, 0)
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 9)
        self.set_text_color(90, 90, 90)
        self.cell(0, 10, f"Page {self.page_no()} of {len(ONBOARDING_PAGES)}",
                  align="C")
        self.set_text_color(0, 0, 0)


def build_pdf(out: Path) -> None:
    pdf = OnboardingPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 15, 20)
    pdf.set_title("Bellmont Logistics - Staff Onboarding Guide")
    pdf.set_author("People & HR Team, Bellmont Logistics")
    pdf.set_subject("First day and first week for new employees")
    pdf.set_keywords("onboarding, first day, first week, badge, buddy, helpdesk")
    pdf.set_creator("make_seeds.py")
    pdf.set_producer("make_seeds.py")
    pdf.set_lang("en-GB")
    pdf.set_creation_date(FIXED_DATE)

    for page in ONBOARDING_PAGES:
        pdf.add_page()
        start_page = pdf.page_no()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 8, page["title"], new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        for kind, text in page["blocks"]:
            assert text.isascii(), text
            if kind == "h":
                pdf.ln(2)
                pdf.set_font("Helvetica", "B", 12)
                pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
            elif kind == "p":
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1.5)
            elif kind == "b":
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 5.5, "- " + text, new_x="LMARGIN", new_y="NEXT")
            else:
                raise ValueError(kind)
        if pdf.page_no() != start_page:
            raise RuntimeError(f"content of '{page['title']}' overflowed its page")

    pdf.output(str(out))


def main() -> None:
    docx_path = HERE / "politique-securite-informatique.docx"
    pdf_path = HERE / "onboarding-guide.pdf"
    build_docx(docx_path)
    build_pdf(pdf_path)
    for p in (docx_path, pdf_path):
        print(f"wrote {p.name} ({p.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
