"""The physical estate: property company, community, building, unit; and who may see it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model


class PropertyCompany(Model):
    __tablename__ = "property_company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_en: Mapped[str | None] = mapped_column(String(200))

    communities: Mapped[list["Community"]] = relationship(back_populates="company")

    def __repr__(self) -> str:
        return self.name


class Community(Model):
    """A residential community (小区): the unit of isolation for every record."""

    __tablename__ = "community"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("property_company.id"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(400))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))

    company: Mapped[PropertyCompany] = relationship(back_populates="communities")
    buildings: Mapped[list["Building"]] = relationship(back_populates="community")

    def __repr__(self) -> str:
        return self.name


class UserCommunity(Model):
    """Membership: which communities a login may see. Platform admins see all."""

    __tablename__ = "user_community"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True)


class Building(Model):
    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    floors: Mapped[int] = mapped_column(Integer, default=6)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))

    community: Mapped[Community] = relationship(back_populates="buildings")
    units: Mapped[list["Unit"]] = relationship(back_populates="building")

    def __repr__(self) -> str:
        return self.name


class Unit(Model):
    """A dwelling (户/套). ``area_m2`` drives per-area fees and 公摊 by area."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    floor: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    building: Mapped[Building] = relationship(back_populates="units")
    community: Mapped[Community] = relationship()

    def __repr__(self) -> str:
        return f"{self.building.name if self.building else ''}-{self.number}"


class Household(Model):
    """The paying party for a unit. Exemption flags matter for dunning (see DOMAIN-NOTES)."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    head_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    move_in: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    elderly_alone: Mapped[bool] = mapped_column(Boolean, default=False)
    medical_exemption: Mapped[bool] = mapped_column(Boolean, default=False)
    disability_exemption: Mapped[bool] = mapped_column(Boolean, default=False)
    prepaid_balance_cents: Mapped[int] = mapped_column(Integer, default=0)

    unit: Mapped[Unit] = relationship()
    community: Mapped[Community] = relationship()
    residents: Mapped[list["Resident"]] = relationship(back_populates="household")

    def __repr__(self) -> str:
        return f"{self.code} {self.head_name}"


class Resident(Model):
    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    relation: Mapped[str] = mapped_column(String(20), default="owner")
    card_number: Mapped[str | None] = mapped_column(String(40))
    face_ref: Mapped[str | None] = mapped_column(
        String(120), doc="Reference to the access vendor's face record; never a photo."
    )

    household: Mapped[Household] = relationship(back_populates="residents")

    def __repr__(self) -> str:
        return self.name


class ResidentPreference(Model):
    """The household a resident login acts for (a family member may hold several)."""

    __tablename__ = "resident_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))


class StaffCommunity(Model):
    __tablename__ = "staff_community"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), primary_key=True)


class Staff(Model):
    """An employee. Roles live on the login (FAB roles); skills drive repair dispatch."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    job: Mapped[str] = mapped_column(String(30), doc="manager, front_desk, accountant, ...")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))

    communities: Mapped[list[Community]] = relationship(secondary="staff_community")

    def __repr__(self) -> str:
        return self.name
