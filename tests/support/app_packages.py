"""App packages for tests, built in memory: the documented simple-app example and a zip/tar.gz builder."""
import io
import tarfile
import zipfile

# The simple-app example of the reference's "Custom Applications" page, as far as custom-apps.md records it:
# asset icon, details_page "task", a project dropdown filtered by a name regex, a line styled
# height: "initial" and an html element referencing a hyperparameter the app writes.
SIMPLE_APP_CONF = """
id: "simple-app"
version: "1.0.0"
name: "Simple Application"
provider: "ClearML"
description: "Counts the tasks of a project"
icon: "${ASSET:app-simple-app@2x.png}"
no_info_html: "${ASSET:simple-app-no-info.html}"
badges: []
details_page: "task"
default_queue: "custom_apps_queue"

task {
  script {
    repository: "https://github.com/example/simple-app.git"
    branch: "main"
    entry_point: "main.py"
    working_dir: "."
  }
  hyperparams {
    General {
      project: ""
      task_name: "my task"
      num_tasks: ""
    }
  }
}

wizard {
  entries: [
    {
      type: dropdown
      required: true
      name: project
      title: Project
      info: "The project whose tasks are counted"
      choices {
        source: project
        display_field: name
        value_field: id
        filter {
          fields {
            name: "^(?i)(?!example).*$"
          }
        }
      }
      target {
        field: hyperparams
        section: General
        name: project
      }
    }
    {
      type: string
      name: task_name
      title: "Task name"
      default: "my task"
      placeholder: "a task name"
      target { field: hyperparams, section: General, name: task_name }
    }
  ]
}

dashboard {
  lines: [
    {
      style { height: "initial" }
      contents: [
        {
          title: "Number of tasks"
          type: html
          text: "<h2>Tasks: ${hyperparams.General.num_tasks.value}</h2>"
        }
      ]
    }
  ]
}
"""

SIMPLE_APP_ASSETS = {"app-simple-app@2x.png": b"\x89PNG fake", "simple-app-no-info.html": b"<p>No instance</p>"}


def simple_app_files(conf: str = SIMPLE_APP_CONF, assets: dict = None) -> dict:
    files = {"simple-app.app.conf": conf.encode()}
    for name, data in (SIMPLE_APP_ASSETS if assets is None else assets).items():
        files["assets/" + name] = data
    return files


def build_zip(files: dict) -> bytes:
    """The documented ``zip -r simple-app.zip simple-app.app.conf assets/``, in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def build_tar_gz(files: dict, links: dict = None) -> bytes:
    """A tar.gz of ``files``; ``links`` adds symlinks {name: target} (for the refusal tests)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return buf.getvalue()


def app_conf(entries: str = "", dashboard: str = "", extra: str = "") -> str:
    """A minimal valid app.conf (id "t") around the given wizard entries / dashboard lines (HOCON text)."""
    return f"""
id: t
name: T
version: "1.0.0"
default_queue: q
task {{ script {{ entry_point: "main.py" }} }}
wizard {{ entries: [ {entries} ] }}
dashboard {{ lines: [ {dashboard} ] }}
{extra}
"""
