"""The admin pages' HTML: the page around each section, its labels in English or French, and the
small pieces (tables, forms, times) the sections are made of. Every value that comes from a user,
a document or the database goes through `esc`; nothing here runs a script (forms post, links go
to our own routes), so the pages work from the keyboard and without JavaScript."""
from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Iterable

SECTIONS = ("users", "groups", "collections", "feedback", "audit")

TEXTS = {
    "en": {
        "title": "Administration", "skip": "Skip to the content", "signed_in": "Signed in as", "chat": "Chat",
        "logout": "Log out", "nav": "Administration sections",
        "users": "Users", "groups": "Groups and grants", "collections": "Collections", "feedback": "Feedback",
        "audit": "Audit log",
        # users
        "name": "Name", "role": "Role", "state": "State", "member_of": "Groups", "reads": "Reads", "writes": "Writes",
        "created": "Created", "password_changed": "Password changed", "actions": "Actions",
        "enabled": "enabled", "disabled": "disabled", "everything": "every collection", "nothing": "nothing",
        "disable": "Disable", "enable": "Enable", "remove": "Remove", "add_user": "Add a user",
        "password": "Password", "password_hint": "at least 12 characters", "admin_role": "Administrator",
        "collections_hint": "collections it may read, separated by spaces (* for every one)",
        "add": "Add", "set_password": "Set a password", "new_password": "New password", "user": "User",
        "set": "Set", "no_users": "No users yet.",
        # groups
        "members": "Members", "add_group": "Add a group", "membership": "Members of a group", "group": "Group",
        "add_member": "Add to the group", "remove_member": "Remove from the group", "grants": "Grants",
        "grant_help": "A grant lets a group read or write a collection (* for every collection). Each user also "
                      "has a personal group, user:NAME.",
        "collection": "Collection", "mode": "Access", "read": "read", "write": "write", "grant": "Grant",
        "revoke": "Revoke", "no_groups": "No groups yet.",
        # collections
        "files": "Files", "chunks": "Chunks", "read_by": "Read by", "written_by": "Written by", "no_group": "no group",
        "last_ingest": "Last ingest", "never": "No ingest recorded yet.", "failed": "Failed", "skipped": "Skipped",
        "notes": "Notes", "reason": "Reason", "file": "File", "size": "Size", "updated": "Updated",
        "added": "added", "changed": "updated", "unchanged": "unchanged", "removed": "removed",
        "embedded": "chunks embedded", "interrupted": "interrupted", "recent_runs": "Recent ingests",
        "when": "When", "from": "From", "outcome": "Outcome", "no_collections": "No collections yet.",
        "pending": "interrupted: repaired by the next ingest", "more": "and {n} more",
        "no_failures": "No file failed.",
        # feedback
        "rating": "Rating", "comment": "Comment", "question": "Question", "answer": "Answer", "sources": "Sources",
        "up": "👍 useful", "down": "👎 not useful", "no_feedback": "No feedback yet.",
        # audit
        "kind": "Kind", "any": "any", "since": "Since", "until": "Until", "filter": "Filter",
        "download": "Download as CSV", "detail": "Detail", "no_events": "No events match.",
        "showing": "The newest {shown} of {total} events that match; narrow the filters or download the CSV for all.",
        "count": "{total} events match.",
        # refusals
        "forbidden": "Administrators only: your account cannot open these pages.",
        "no_admin": "The administration pages need an administrator's account. Create one with "
                    "`assistant users add NAME --admin`, then log in.",
    },
    "fr": {
        "title": "Administration", "skip": "Aller au contenu", "signed_in": "Connecté en tant que", "chat": "Discussion",
        "logout": "Se déconnecter", "nav": "Rubriques de l'administration",
        "users": "Utilisateurs", "groups": "Groupes et droits", "collections": "Collections", "feedback": "Avis",
        "audit": "Journal d'audit",
        "name": "Nom", "role": "Rôle", "state": "État", "member_of": "Groupes", "reads": "Lit", "writes": "Écrit",
        "created": "Créé", "password_changed": "Mot de passe changé", "actions": "Actions",
        "enabled": "actif", "disabled": "désactivé", "everything": "toutes les collections", "nothing": "rien",
        "disable": "Désactiver", "enable": "Réactiver", "remove": "Supprimer", "add_user": "Ajouter un utilisateur",
        "password": "Mot de passe", "password_hint": "au moins 12 caractères", "admin_role": "Administrateur",
        "collections_hint": "collections qu'il peut lire, séparées par des espaces (* pour toutes)",
        "add": "Ajouter", "set_password": "Changer un mot de passe", "new_password": "Nouveau mot de passe",
        "user": "Utilisateur", "set": "Changer", "no_users": "Aucun utilisateur.",
        "members": "Membres", "add_group": "Ajouter un groupe", "membership": "Membres d'un groupe", "group": "Groupe",
        "add_member": "Ajouter au groupe", "remove_member": "Retirer du groupe", "grants": "Droits",
        "grant_help": "Un droit permet à un groupe de lire ou d'écrire une collection (* pour toutes). Chaque "
                      "utilisateur a aussi un groupe personnel, user:NOM.",
        "collection": "Collection", "mode": "Accès", "read": "lecture", "write": "écriture", "grant": "Accorder",
        "revoke": "Retirer", "no_groups": "Aucun groupe.",
        "files": "Fichiers", "chunks": "Passages", "read_by": "Lue par", "written_by": "Écrite par",
        "no_group": "aucun groupe", "last_ingest": "Dernière ingestion", "never": "Aucune ingestion enregistrée.",
        "failed": "En échec", "skipped": "Ignorés", "notes": "Remarques", "reason": "Raison", "file": "Fichier",
        "size": "Taille", "updated": "Mis à jour", "added": "ajoutés", "changed": "modifiés",
        "unchanged": "inchangés", "removed": "retirés", "embedded": "passages encodés", "interrupted": "interrompue",
        "recent_runs": "Ingestions récentes", "when": "Quand", "from": "Depuis", "outcome": "Résultat",
        "no_collections": "Aucune collection.", "pending": "interrompu : réparé à la prochaine ingestion",
        "more": "et {n} de plus", "no_failures": "Aucun fichier en échec.",
        "rating": "Note", "comment": "Commentaire", "question": "Question", "answer": "Réponse", "sources": "Sources",
        "up": "👍 utile", "down": "👎 pas utile", "no_feedback": "Aucun avis.",
        "kind": "Type", "any": "tous", "since": "Depuis le", "until": "Jusqu'au", "filter": "Filtrer",
        "download": "Télécharger en CSV", "detail": "Détail", "no_events": "Aucun événement ne correspond.",
        "showing": "Les {shown} plus récents des {total} événements qui correspondent ; affinez les filtres ou "
                   "téléchargez le CSV pour tous.",
        "count": "{total} événements correspondent.",
        "forbidden": "Réservé aux administrateurs : votre compte ne peut pas ouvrir ces pages.",
        "no_admin": "Les pages d'administration demandent un compte administrateur. Créez-en un avec "
                    "`assistant users add NOM --admin`, puis connectez-vous.",
    },
}

STYLE = """
:root { color-scheme: light; --accent: #1d4ed8; --line: #d4d7dd; --muted: #5b6270; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #111827; line-height: 1.4; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: .5rem; background: #fff; padding: .5rem; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: .6rem 1.25rem; display: flex;
         flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
header h1 { font-size: 1.15rem; margin: 0; }
header nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0; padding: 0; }
header nav a[aria-current] { font-weight: 700; text-decoration: none; color: #111827; border-bottom: 2px solid var(--accent); }
header .who { margin-left: auto; color: var(--muted); }
main { max-width: 84rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h2 { font-size: 1.3rem; } h3 { font-size: 1.05rem; margin-bottom: .4rem; }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { background: #eef0f4; font-weight: 600; }
td.path, td.mono { font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; }
form.inline { display: inline; margin: 0; }
form.row { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin: .5rem 0; }
form.row label { display: flex; flex-direction: column; font-weight: 600; font-size: .9rem; }
form.row label.check { flex-direction: row; align-items: center; gap: .35rem; }
input, select, button { font: inherit; padding: .3rem .5rem; }
button { background: var(--accent); color: #fff; border: 1px solid var(--accent); border-radius: 4px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: #b91c1c; border-color: #b91c1c; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.message { padding: .6rem .8rem; border-radius: 4px; margin: .75rem 0; }
.message.ok { background: #dcfce7; border: 1px solid #86efac; }
.message.error { background: #fee2e2; border: 1px solid #fca5a5; }
.muted { color: var(--muted); } .hint { font-weight: 400; color: var(--muted); font-size: .8rem; }
.bad { color: #b91c1c; font-weight: 600; }
details summary { cursor: pointer; }
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(moment: datetime | float | None) -> str:
    """UTC, to the second: the same on every page and in the CSV."""
    if moment is None:
        return ""
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], *, empty: str = "", label: str = "") -> str:
    """Cells are HTML already (escape each value where it is made)."""
    rows = list(rows)
    if not rows and empty:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    caption = f' aria-label="{esc(label)}"' if label else ""
    return f'<div class="scroll"><table{caption}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


def button(op: str, text: str, css: str = "", *, label: str = "") -> str:
    aria = f' aria-label="{esc(label)}"' if label else ""
    return f'<button type="submit" name="op" value="{esc(op)}" class="{esc(css)}"{aria}>{esc(text)}</button>'


def options(values: Iterable[str], selected: str | None = None, *, blank: str | None = None) -> str:
    found = [f'<option value="">{esc(blank)}</option>'] if blank is not None else []
    for value in values:
        mark = " selected" if value == selected else ""
        found.append(f'<option value="{esc(value)}"{mark}>{esc(value)}</option>')
    return "".join(found)


def page(language: str, section: str, admin: str, content: str, *, message: str = "", error: bool = False) -> str:
    t = TEXTS[language]
    links = "".join(
        f'<li><a href="/admin/{s}"{" aria-current=page" if s == section else ""}>{esc(t[s])}</a></li>'
        for s in SECTIONS)
    note = ""
    if message:
        role = "alert" if error else "status"
        note = f'<p class="message {"error" if error else "ok"}" role="{role}">{esc(message)}</p>'
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(t[section])} — {esc(t['title'])}</title><style>{STYLE}</style></head>
<body><a class="skip" href="#content">{esc(t['skip'])}</a>
<header><h1>{esc(t['title'])}</h1>
<nav aria-label="{esc(t['nav'])}"><ul>{links}<li><a href="/">{esc(t['chat'])}</a></li></ul></nav>
<span class="who">{esc(t['signed_in'])} <strong>{esc(admin)}</strong> · <a href="/logout">{esc(t['logout'])}</a></span>
</header>
<main id="content" tabindex="-1"><h2>{esc(t[section])}</h2>{note}{content}</main></body></html>"""


def refusal(language: str, key: str) -> str:
    t = TEXTS[language]
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(t['title'])}</title><style>{STYLE}</style></head>
<body><main><h1>{esc(t['title'])}</h1><p class="message error" role="alert">{esc(t[key])}</p>
<p><a href="/">{esc(t['chat'])}</a> · <a href="/logout">{esc(t['logout'])}</a></p></main></body></html>"""
