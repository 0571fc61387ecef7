"""Static security checks, part of `make test` (issue 20): bandit over the application code finds nothing, and
every finding silenced in place names its check and says why."""
import json
import re
import subprocess
import sys

from servers import REPO

SCANNED = ("tracker_api", "config")
NOSEC = re.compile(r"#\s*nosec\b(?P<rest>.*)$")
JUSTIFIED = re.compile(r"^\s*B\d{3}(?:\s*,\s*B\d{3})*:\s*\S")


def test_bandit_finds_nothing_in_the_application_code():
    result = subprocess.run([sys.executable, "-m", "bandit", "--recursive", *SCANNED, "--format", "json", "--quiet"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    findings = [f"{issue['filename']}:{issue['line_number']} {issue['test_id']} {issue['issue_text']}"
                for issue in report["results"]]
    assert findings == [] and report["errors"] == [], "\n".join(findings) or report["errors"]
    assert result.returncode == 0, result.stderr
    assert report["metrics"]["_totals"]["loc"] > 1000  # it did read the code


def test_every_silenced_finding_names_its_check_and_a_reason():
    unjustified = []
    for directory in SCANNED:
        for path in sorted((REPO / directory).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found = NOSEC.search(line)
                if found and not JUSTIFIED.match(found.group("rest")):
                    unjustified.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert unjustified == [], "write `# nosec BXXX: why` instead:\n" + "\n".join(unjustified)
