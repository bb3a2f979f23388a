"""Flows the test suite tracks against; autodiscovered like a host app's."""

from onboarding import Flow, Step, register
from tests.testapp.models import Project


def project_created_at(subject):
    project = Project.objects.filter(owner=subject).order_by("created_at").first()
    return project.created_at if project else None


def create_sample_project(subject, actor):
    Project.objects.create(owner=subject, name="Sample project")


WIZARD = register(
    Flow(
        key="wizard",
        title="Set up your account",
        ordered=True,
        variants={"shown": 1, "hidden": 1},
        control="hidden",
        steps=[
            Step("signup", "Sign up", estimated_seconds=30),
            Step("profile", "Fill in your profile", url="/profile/", estimated_seconds=40),
            Step(
                "project",
                "Create a project",
                url="project-new",
                estimated_seconds=60,
                completed_by="project_created",
                done_when=project_created_at,
                default=create_sample_project,
                default_label="Use a sample project",
            ),
            Step("invite", "Invite a colleague", optional=True, estimated_seconds=20),
            Step("publish", "Publish", estimated_seconds=10),
        ],
    )
)

CHECKLIST = register(
    Flow(
        key="checklist",
        title="Explore",
        ordered=False,
        steps=[
            Step("a", "Step A", estimated_seconds=5),
            Step("b", "Step B", estimated_seconds=5),
            Step("c", "Step C", estimated_seconds=5),
        ],
    )
)
